package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Exit code 2 when Laiki itself cannot run.
func TestCannotRun(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"bad.yaml":             "sources:\n  - name: a\n    colour: red\n",
		"broken/laiki.yaml":    "sources:\n  - {name: p, path: p, role: platform}\n",
		"broken/p/policy.rego": "package laiki.governance.x\n\ndeny contains m if {\n\tm := nope\n}\n",
	})
	for name, args := range map[string][]string{
		"bad flag":             {"check", "--no-such-flag"},
		"bad format":           {"check", "-o", "xml", filepath.Join(repo, "examples", "platform")},
		"missing config":       {"check", "--config", "nope.yaml"},
		"bad config":           {"check", "--config", "bad.yaml"},
		"policy not compiling": {"check", "--config", "broken/laiki.yaml"},
		"no laiki.yaml":        {"check"},
	} {
		r := laikiRun(t, dir, nil, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, r.code, r.stderr)
		}
		if name == "policy not compiling" && !strings.Contains(r.stderr, "p/policy.rego:4:") {
			t.Errorf("the compile error must name file and line: %s", r.stderr)
		}
		if name == "bad config" && !strings.Contains(r.stderr, "bad.yaml") {
			t.Errorf("the config error must name the file: %s", r.stderr)
		}
	}
}

// The README's main command: render the bundled examples, byte-identical
// every time; --out writes a file per target and object.
func TestRender(t *testing.T) {
	first := laikiRun(t, repo, nil, "render", "--config", "examples/laiki-with-data.yaml", "-o", "json")
	if first.code != 0 {
		t.Fatalf("exit %d: %s", first.code, first.stderr)
	}
	for _, want := range []string{`"target-type": "ShinyProxy"`, `mountPath: /mnt/data`, `"jack"`, `"openanalytics/shinyproxy-demo"`} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("render lacks %s", want)
		}
	}
	if again := laikiRun(t, repo, nil, "render", "--config", "examples/laiki-with-data.yaml", "-o", "json"); again.stdout != first.stdout {
		t.Error("render is not byte-identical between runs")
	}
	out := t.TempDir()
	r := laikiRun(t, repo, nil, "render", "--config", "examples/laiki.yaml", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"shinyproxy/shinyproxy-shinyproxy/application.yml",
		"shinyproxy/prepuller-pre-puller/daemonset-pre-puller.yaml", "external/awsecrrepository-shinyproxy-my-repository-name.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A rejected app is left out and reported; the others are rendered.
	dir := t.TempDir()
	write(t, dir, map[string]string{"apps/bad.yaml": app("bad") + "  kubernetes-pod-patches: x\n", "apps/good.yaml": app("good")})
	write(t, dir, map[string]string{"laiki.yaml": "sources:\n  - {name: platform, path: " + filepath.Join(repo, design, "platform") + ", role: platform}\n  - {name: team, path: apps, allow: {target-namespaces: [ShinyProxy]}}\n"})
	r = laikiRun(t, dir, nil, "render", "--config", "laiki.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "id: good") || strings.Contains(r.stdout, "id: bad") || !strings.Contains(r.stderr, "apps/bad.yaml:8:3: deny:") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestExplainAndConvert(t *testing.T) {
	r := laikiRun(t, repo, nil, "explain", "--config", "examples/laiki.yaml", "shinyproxy/shinyproxy-demo")
	if r.code != 0 || !strings.Contains(r.stdout, "fallback") || !strings.Contains(r.stdout, "examples/apps/shinyproxy-demo.yaml:6:3") {
		t.Errorf("explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := laikiRun(t, repo, nil, "explain", "--config", "examples/laiki.yaml", "shinyproxy/nope"); r.code != 1 {
		t.Errorf("explain of a missing resource: exit %d", r.code)
	}
	// The design's names are not Kubernetes names: convert maps them, and back.
	objs := laikiRun(t, repo, nil, "convert", design+"/platform", design+"/apps")
	if objs.code != 0 || !strings.Contains(objs.stdout, "kind: ShinyProxyApp") || !strings.Contains(objs.stdout, "laiki.io/namespace: ShinyProxy") {
		t.Fatalf("convert: exit %d\n%s%s", objs.code, objs.stdout, objs.stderr)
	}
	dir := t.TempDir()
	write(t, dir, map[string]string{"objects.yaml": objs.stdout})
	back := laikiRun(t, dir, nil, "convert", "objects.yaml")
	write(t, dir, map[string]string{"files/all.yaml": back.stdout})
	if r := laikiRun(t, dir, nil, "check", "files"); r.code != 0 {
		t.Errorf("the files converted back must pass check: exit %d\n%s", r.code, r.stdout)
	}
}
