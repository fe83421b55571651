package workflow_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// crdTarget is a ShinyProxy target the operator's CRD takes as it is.
const crdTarget = `laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}
laiki-spec:
  fqdn: sp.example.com
  proxy:
    title: Apps
    port: 8080
    authentication: none
`

// crdRun runs a platform of the given platform and team files: the team
// (source team-a) may use the keys containerMemory (which ShinyProxy's CRD
// types) and container-memory (which it keeps unchecked): Laiki knows
// neither, so it reads them as written.
func crdRun(t *testing.T, files map[string]string) (*pipeline.Result, *workflow.Desired) {
	t.Helper()
	files["laiki.yaml"] = "sources:\n  - {name: platform, path: platform, role: platform}\n" +
		"  - {name: team-a, path: team-a, allow: {resource-types: [ShinyProxyApp], target-namespaces: [apps]}}\n" +
		"policy-data:\n  baseline:\n    allowed-keys: [containerMemory, container-memory]\n"
	if _, ok := files["team-a/.keep"]; !ok {
		files["team-a/.keep"] = ""
	}
	res := runConfig(t, filepath.Join(tree(t, files), "laiki.yaml"))
	return res, workflow.RenderAndJudge(res)
}

// shinyProxyCR returns the rendered ShinyProxy resource of a target.
func shinyProxyCR(t *testing.T, tg *workflow.Target) map[string]any {
	t.Helper()
	for _, o := range tg.Objects {
		if m := plain(t, o); m["kind"] == "ShinyProxy" {
			return m
		}
	}
	t.Fatalf("target %s/%s renders no ShinyProxy resource", tg.Namespace, tg.Name)
	return nil
}

// findingAt returns the finding of a severity at file:line whose message
// says every one of want.
func findingAt(t *testing.T, res *pipeline.Result, sev finding.Severity, file string, line int, want ...string) finding.Finding {
	t.Helper()
	for _, f := range res.Findings {
		if f.Severity != sev || filepath.Base(f.Location.File) != file || f.Location.Line != line {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(f.Message, w)
		}
		if ok {
			return f
		}
	}
	t.Fatalf("no %s at %s:%d saying %q; findings:\n%s", sev, file, line, want, findingsText(res.Findings))
	return finding.Finding{}
}

func findingsText(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + string(f.Severity) + " " + f.Location.String() + " " + f.Message + "\n")
	}
	return b.String()
}

func accepted(res *pipeline.Result, id string) bool {
	for _, r := range res.Resources {
		if r.ID == id {
			return r.Accepted
		}
	}
	return false
}

func mustValid(t *testing.T, cr map[string]any) {
	t.Helper()
	errs, err := workflow.ValidateShinyProxy(cr)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("the rendered ShinyProxy resource is refused: %v", errs.ToAggregate())
	}
}

// An app whose value the CRD types otherwise (containerMemory: 512, a
// number where the CRD wants a string) would make the API server refuse
// the whole resource: it alone is left out, with an error at its line
// that names the key as written, the type wanted and the CRD's rule, and
// the resource (and application.yml) render the other apps, valid.
func TestCRDRejectsTheAppAlone(t *testing.T) {
	res, d := crdRun(t, map[string]string{
		"platform/sp.yaml": crdTarget,
		"team-a/a.yaml":    app("sp", "apps", "a", "nginx:1", "  containerMemory: 1Gi\n"),
		"team-a/b.yaml":    app("sp", "apps", "b", "nginx:1", "  display-name: B\n  containerMemory: 512\n"),
		"team-a/c.yaml":    app("sp", "apps", "c", "nginx:1", "  container-memory: 512\n"),
	})
	f := findingAt(t, res, finding.Error, "b.yaml", 6, "containerMemory is 512, an integer",
		"types spec.proxy.specs[].containerMemory as a string", "target apps/sp", "left out", "write a string")
	if f.Resource != "ShinyProxyApp apps/sp/b" || f.Field != "laiki-spec.containerMemory" || f.Source != "team-a" {
		t.Errorf("finding about %q, field %q, source %q", f.Resource, f.Field, f.Source)
	}
	if accepted(res, "b") || !accepted(res, "a") || !accepted(res, "c") {
		t.Errorf("verdicts a=%v b=%v c=%v: only b is left out (kebab-case keys are the CRD's unknown fields)",
			accepted(res, "a"), accepted(res, "b"), accepted(res, "c"))
	}
	if !res.Failed() {
		t.Error("a rejected app fails the run")
	}
	sp := byName(t, d, "apps", "sp")
	if got := ids(t, sp); got != "a,c" {
		t.Errorf("application.yml lists %s, want a,c", got)
	}
	cr := shinyProxyCR(t, sp)
	if got := len(dig(cr, "spec", "proxy", "specs").([]any)); got != 2 {
		t.Errorf("the ShinyProxy resource lists %d apps, want 2", got)
	}
	mustValid(t, cr)

	// The admission webhook decides one app without rendering its target:
	// the same finding, from the app alone.
	for _, r := range res.Resources {
		got := workflow.CheckAppAgainstCRD(r)
		switch {
		case r.ID == "b" && (len(got) != 1 || got[0].Message != f.Message || got[0].Location != f.Location):
			t.Errorf("the app b alone: %v, want %v", got, f)
		case r.ID != "b" && len(got) > 0:
			t.Errorf("the app %s alone: %v", r.ID, got)
		}
	}
}

// A value a pre-processor sets for every app is the platform's mistake:
// every app it reaches is left out, and the error is at the
// pre-processor's line, naming it.
func TestCRDBlamesThePreProcessor(t *testing.T) {
	res, d := crdRun(t, map[string]string{
		"platform/sp.yaml": crdTarget,
		"platform/defaults.yaml": `laiki-metadata:
  pre-processor-name: ShinyProxyAppDefaultsPreProcessor
  name: defaults
  target-namespace: apps
laiki-spec:
  fallback:
    containerMemory: 512
`,
		"team-a/a.yaml": app("sp", "apps", "a", "nginx:1"),
	})
	f := findingAt(t, res, finding.Error, "defaults.yaml", 7, "containerMemory is 512", "set by pre-processor apps/defaults")
	if f.Resource != "ShinyProxyApp apps/sp/a" || f.Source != "platform" {
		t.Errorf("finding about %q from %q", f.Resource, f.Source)
	}
	if accepted(res, "a") {
		t.Error("the app with the pre-processor's value is accepted")
	}
	mustValid(t, shinyProxyCR(t, byName(t, d, "apps", "sp")))
}

// A platform value that makes the resource invalid is an error at its own
// line in the target's file; the apps are not blamed.
func TestCRDTargetValues(t *testing.T) {
	res, d := crdRun(t, map[string]string{
		"platform/sp.yaml": `laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}
laiki-spec:
  fqdn: sp.example.com
  proxy:
    title: Apps
    port: "8080"
    authentication: foo
    hideNavbar: "yes"
    logoUrl: ~
    heartbeat-rate: "kebab-case is not typed"
`,
		"team-a/a.yaml": app("sp", "apps", "a", "nginx:1"),
	})
	port := findingAt(t, res, finding.Error, "sp.yaml", 6, `proxy.port is "8080", a string`, "types spec.proxy.port as an integer",
		"refuses the whole ShinyProxy resource of target apps/sp", "it is not applied", "write an integer")
	if port.Field != "laiki-spec.proxy.port" || port.Resource != "ShinyProxy apps/sp" || port.Source != "platform" {
		t.Errorf("field %q, resource %q, source %q", port.Field, port.Resource, port.Source)
	}
	findingAt(t, res, finding.Error, "sp.yaml", 7, `proxy.authentication is "foo", a string`,
		"allows only ldap, kerberos, keycloak, openid, saml, social, webservice, simple, none at spec.proxy.authentication")
	findingAt(t, res, finding.Error, "sp.yaml", 8, `proxy.hideNavbar is "yes", a string`, "as a boolean")
	// Server-side apply keeps a null, and refuses it where the CRD types a value.
	findingAt(t, res, finding.Error, "sp.yaml", 9, "proxy.logoUrl is null", "as a string", "or leave the key out")
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "heartbeat-rate") {
			t.Errorf("a kebab-case key is not the CRD's to check: %s", f.Message)
		}
	}
	if !accepted(res, "a") {
		t.Error("the platform's mistake rejects no app")
	}
	if !res.Failed() {
		t.Error("a platform value the API server refuses fails the run")
	}
	if got := ids(t, byName(t, d, "apps", "sp")); got != "a" {
		t.Errorf("apps %s: the target renders as written (the API server refuses it, and the one running stays)", got)
	}
}

// A target without fqdn, which the CRD requires, is said at the target,
// never only by the API server: by the target's own check when it has one,
// else by the CRD check, as a warning (laiki render works without it).
func TestCRDMissingFqdn(t *testing.T) {
	res, _ := crdRun(t, map[string]string{
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  proxy: {title: Apps}\n",
	})
	for _, f := range res.Findings {
		if filepath.Base(f.Location.File) == "sp.yaml" && strings.Contains(f.Message, "fqdn") && !f.Severity.Below(finding.Warn) {
			return
		}
	}
	t.Errorf("nothing says fqdn is missing:\n%s", findingsText(res.Findings))
}

// What a team writes in a known key never reaches a typed path: Laiki
// reads every spelling of a known key in its kebab-case form, and checks
// its type itself. containerPrivileged: "yes" is Laiki's schema error,
// and containerCmd its container-cmd.
func TestCRDTeamSpellingsAreKebabCase(t *testing.T) {
	res, d := crdRun(t, map[string]string{
		"platform/sp.yaml": crdTarget,
		"team-a/a.yaml":    app("sp", "apps", "a", "nginx:1", "  containerCmd: [R, -e, run()]\n  containerCpuLimit: 2\n"),
	})
	if !accepted(res, "a") {
		t.Fatalf("a rejected:\n%s", findingsText(res.Findings))
	}
	cr := shinyProxyCR(t, byName(t, d, "apps", "sp"))
	spec := dig(cr, "spec", "proxy", "specs", 0).(map[string]any)
	if _, ok := spec["containerCmd"]; ok || spec["container-cmd"] == nil || spec["container-cpu-limit"] == nil {
		t.Errorf("the app reaches the resource as %v", spec)
	}
	mustValid(t, cr)
}

// The examples and the design document's own render as the API server
// takes them, once the platform writes the operator's keys the design
// document leaves to it ("# ...": fqdn, which the CRD requires), as
// TestApplyExamples does: no app is left out and the resource is valid.
func TestCRDExamplesRenderValid(t *testing.T) {
	roots := []string{"../../examples", "../../test/fixtures/design"}
	for _, root := range roots {
		dir := withFqdn(t, root)
		for _, cfg := range []string{"laiki.yaml", "laiki-with-data.yaml"} {
			res := runConfig(t, filepath.Join(dir, cfg))
			d := workflow.RenderAndJudge(res)
			if res.Failed() {
				t.Errorf("%s, %s fails:\n%s", root, cfg, findingsText(res.Findings))
			}
			for _, f := range res.Findings {
				if strings.Contains(f.Message, "ShinyProxy operator's CRD") {
					t.Errorf("%s, %s: %s", root, cfg, f.Message)
				}
			}
			mustValid(t, shinyProxyCR(t, target(t, d, "ShinyProxy")))
		}
	}
}

// withFqdn copies an examples directory (with its laiki.yaml files) and
// gives its ShinyProxy target an fqdn when it has none.
func withFqdn(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, root, dir)
	sp := filepath.Join(dir, "platform", "shinyproxy.yaml")
	text, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "fqdn:") {
		text = append(text, "  fqdn: shinyproxy.example.com\n"...)
	}
	if err := os.WriteFile(sp, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The validator is the API server's as Laiki applies (server-side apply):
// a null where the CRD types a value is refused (a create would drop it),
// and the kebab-case keys are unknown fields it keeps.
func TestValidateShinyProxy(t *testing.T) {
	cr := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "openanalytics.eu/v1", "kind": "ShinyProxy",
			"metadata": map[string]any{"name": "sp", "namespace": "apps"}, "spec": spec}
	}
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string // the fields refused, joined
	}{
		{"valid", map[string]any{"fqdn": "x", "proxy": map[string]any{"port": 8080, "container-wait-time": "x", "title-x": nil}}, ""},
		{"null title", map[string]any{"fqdn": "x", "proxy": map[string]any{"title": nil}}, "spec.proxy.title"},
		{"null fqdn", map[string]any{"fqdn": nil, "proxy": map[string]any{}}, "spec.fqdn"},
		{"float port", map[string]any{"fqdn": "x", "proxy": map[string]any{"port": 80.5}}, "spec.proxy.port"},
		{"list item", map[string]any{"fqdn": "x", "proxy": map[string]any{"specs": []any{map[string]any{"id": "a", "containerCmd": []any{"R", 1}}}}},
			"spec.proxy.specs[0].containerCmd[1]"},
		{"no id", map[string]any{"fqdn": "x", "proxy": map[string]any{"specs": []any{map[string]any{"display-name": "A"}}}}, "spec.proxy.specs[0].id"},
	} {
		errs, err := workflow.ValidateShinyProxy(cr(tc.spec))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range errs {
			if e.Field != "<nil>" { // the integer format check repeats the type error so
				got = append(got, e.Field)
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: refused %v, want %q", tc.name, errs.ToAggregate(), tc.want)
		}
	}
}

// Validation runs per target per render; the CRD is compiled once per
// process. A ShinyProxy resource of 1,000 apps, validated.
func BenchmarkValidateShinyProxy1000Apps(b *testing.B) {
	specs := make([]any, 1000)
	for i := range specs {
		specs[i] = map[string]any{"id": fmt.Sprintf("app-%04d", i), "container-image": "registry.example.com/team/app:1",
			"container-memory-limit": "1Gi", "container-env": map[string]any{"A": "1"}}
	}
	cr := map[string]any{"apiVersion": "openanalytics.eu/v1", "kind": "ShinyProxy", "metadata": map[string]any{"name": "sp"},
		"spec": map[string]any{"fqdn": "sp.example.com", "proxy": map[string]any{"title": "Apps", "port": 8080, "specs": specs}}}
	b.ReportAllocs()
	for b.Loop() {
		if errs, err := workflow.ValidateShinyProxy(cr); err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
	}
}

// An app a workflow takes back late in a pass (the CRD check of its
// ShinyProxy target, after the PrePuller of its namespace rendered) is in
// none of the rendered objects: the PrePuller does not pull for an app
// that does not run.
func TestLateRejectionLeavesEveryObject(t *testing.T) {
	res, d := crdRun(t, map[string]string{
		"platform/sp.yaml": crdTarget,
		"platform/pp.yaml": "laiki-metadata: {target-type: PrePuller, name: pp, namespace: apps}\nlaiki-spec: {}\n",
		"team-a/bad.yaml": "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\n" +
			"laiki-spec:\n  id: bad\n  container-image: registry.example.com/bad:1\n  containerMemory: 512\n",
		"team-a/good.yaml": "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\n" +
			"laiki-spec:\n  id: good\n  container-image: registry.example.com/good:1\n",
	})
	if accepted(res, "bad") || !accepted(res, "good") {
		t.Fatalf("want bad rejected and good accepted:\n%s", findingsText(res.Findings))
	}
	ds := yamlOf(t, byName(t, d, "apps", "pp").Objects)
	if strings.Contains(ds, "registry.example.com/bad:1") || !strings.Contains(ds, "registry.example.com/good:1") {
		t.Errorf("the PrePuller pulls for the rejected app, or not for the accepted one:\n%s", ds)
	}
}

// The CRD check remembers what it found in a resource it saw before (the
// reconcile loop renders every unchanged target again on every run): the
// same resource gives the same refusals, and a changed one is checked
// anew, whichever way it changed.
func TestCRDCheckNeverStale(t *testing.T) {
	bad, good := "  containerMemory: 512\n", "  containerMemory: 512Mi\n"
	for i, value := range []string{bad, bad, good, good, bad} {
		res, d := crdRun(t, map[string]string{
			"platform/sp.yaml": crdTarget,
			"team-a/a.yaml":    app("sp", "apps", "a", "nginx:1"),
			"team-a/b.yaml":    app("sp", "apps", "b", "nginx:1", value),
		})
		if value == bad {
			findingAt(t, res, finding.Error, "b.yaml", 5, "containerMemory is 512, an integer")
			if accepted(res, "b") || ids(t, byName(t, d, "apps", "sp")) != "a" {
				t.Errorf("render %d: the refused app b is kept", i)
			}
			continue
		}
		if !accepted(res, "b") || ids(t, byName(t, d, "apps", "sp")) != "a,b" {
			t.Errorf("render %d: the app b, now valid, is left out:\n%s", i, findingsText(res.Findings))
		}
	}
}
