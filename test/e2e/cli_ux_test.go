package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// "-" reads a document from standard input, as convert does: an app piped
// into render and explain, checked against the design's example platform.
func TestStdinDash(t *testing.T) {
	r := laikiStdin(t, repo, nil, app("piped"), "render", design+"/platform", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "id: piped") {
		t.Errorf("render -: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiStdin(t, repo, nil, app("piped"), "explain", design+"/platform", "-", "ShinyProxy/piped")
	if r.code != 0 || !strings.Contains(r.stdout, "ShinyProxyApp ShinyProxy/ShinyProxy/piped (") || !strings.Contains(r.stdout, "stdin:6:3") {
		t.Errorf("explain -: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A finding on the piped document names it stdin, with its line (not
	// the temporary file it went through); with --platform it is a team's
	// app, held to the baseline.
	r = laikiStdin(t, repo, nil, app("bad")+"  kubernetes-pod-patches: x\n", "render", "--platform", design+"/platform", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "stdin:8:3: deny:") || strings.Contains(r.stderr, "laiki-stdin-") {
		t.Errorf("a rejected piped app: exit %d\n%s", r.code, r.stderr)
	}
	r = laikiStdin(t, repo, nil, app("bad")+"  kubernetes-pod-patches: x\n", "check", "--platform", design+"/platform", "-")
	if r.code != 1 || !strings.Contains(r.stdout, "stdin:8:3: deny:") || strings.Contains(r.stdout, "laiki-stdin-") {
		t.Errorf("check -: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiStdin(t, repo, nil, app("piped"), "render", "-", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "once") {
		t.Errorf("- twice: exit %d\n%s", r.code, r.stderr)
	}
}

// explain takes a resource as check names it: TYPE NS/TARGET/ID (one
// argument or two), NS/TARGET/ID, or NS/ID.
func TestExplainTakesCheckResource(t *testing.T) {
	rep := parseReport(t, laikiRun(t, repo, nil, "check", "--config", design+"/laiki.yaml", "-o", "json"))
	var name string
	for _, r := range rep.Resources {
		if r.ID == "shinyproxy-demo" {
			name = r.Resource
		}
	}
	typ, rest, ok := strings.Cut(name, " ")
	if !ok {
		t.Fatalf("check names the app %q", name)
	}
	for _, args := range [][]string{{name}, {typ, rest}, {rest}, {"ShinyProxy/shinyproxy-demo"}} {
		r := laikiRun(t, repo, nil, append([]string{"explain", "--config", design + "/laiki.yaml"}, args...)...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, name+" ("+design+"/apps/shinyproxy-demo.yaml:1)") {
			t.Errorf("explain %q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	// With paths before it, two words are still the resource.
	r := laikiRun(t, repo, nil, "explain", design+"/platform", design+"/apps", typ, rest)
	if r.code != 0 || !strings.HasPrefix(r.stdout, name+" (") {
		t.Errorf("explain PATH... TYPE NS/TARGET/ID: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiRun(t, repo, nil, "explain", "--config", design+"/laiki.yaml", "ShinyProxy/shinyproxy-dem")
	if r.code != 1 || !strings.Contains(r.stderr, "no resource ShinyProxy/shinyproxy-dem in any source; did you mean ShinyProxy/shinyproxy-demo?") {
		t.Errorf("a misspelt resource: exit %d\n%s", r.code, r.stderr)
	}
}

// A laiki.yaml of the wrong shape, and an empty one, in the user's words.
func TestConfigMessagesInUsersWords(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"misspelt.yaml": "sources:\n  - name: a\n    pth: x\n",
		"mapping.yaml":  "# the sources\nsources:\n  name: a\n",
		"empty.yaml":    "",
		"apps/c5.yaml":  "",
		"apps/ok.yaml":  "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  proxy: {title: t}\n",
	})
	for file, want := range map[string]string{
		"misspelt.yaml": `misspelt.yaml:3: sources[0]: unknown key "pth" (did you mean "path"?)`,
		"mapping.yaml":  `mapping.yaml:3: sources must be a list of sources, not a mapping`,
	} {
		r := laikiRun(t, dir, nil, "check", "--config", file)
		if r.code != 2 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "source.Source") {
			t.Errorf("%s: exit %d, want %q:\n%s", file, r.code, want, r.stderr)
		}
	}
	// An empty file is an empty file, as laiki.yaml (no sources) and as an
	// app file.
	for _, args := range [][]string{{"check", "--config", "empty.yaml"}, {"check", "apps"}, {"check", "apps/c5.yaml"}} {
		r := laikiRun(t, dir, nil, args...)
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "EOF") {
			t.Errorf("%q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// The commands that need a cluster say what to do when there is none,
// without a Go stack trace.
func TestNoClusterSaysWhatToDo(t *testing.T) {
	// Not in a pod, no KUBECONFIG, and laikiRun's HOME has no .kube/config.
	none := []string{"KUBECONFIG=", "KUBERNETES_SERVICE_HOST=", "KUBERNETES_SERVICE_PORT="}
	missing := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "nope"), "KUBERNETES_SERVICE_HOST="}
	for _, args := range [][]string{
		{"webhook", "--config", "examples/laiki.yaml"},
		{"operator", "--config", "examples/laiki.yaml"},
		{"apply", "--config", "examples/laiki.yaml"},
	} {
		r := laikiRun(t, repo, none, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--kubeconfig") || !strings.Contains(r.stderr, "KUBECONFIG") {
			t.Errorf("%s with no cluster: exit %d\n%s", args[0], r.code, r.stderr)
		}
		for _, internal := range []string{"stacktrace", ".go:", "KUBERNETES_MASTER"} {
			if strings.Contains(r.stderr, internal) {
				t.Errorf("%s with no cluster speaks Go (%s):\n%s", args[0], internal, r.stderr)
			}
		}
		r = laikiRun(t, repo, missing, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "nope") || strings.Contains(r.stderr, "stacktrace") || strings.Contains(r.stderr, "KUBERNETES_MASTER") {
			t.Errorf("%s with KUBECONFIG naming no file: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
}
