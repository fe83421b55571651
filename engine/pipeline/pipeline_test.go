package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/test/gittest"
)

// tree writes files under a temporary directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Write(t, dir, files)
	return dir
}

func run(t *testing.T, dir string) *pipeline.Result {
	t.Helper()
	res, err := runErr(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func runErr(t *testing.T, dir string) (*pipeline.Result, error) {
	t.Helper()
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Load: source.Options{CacheDir: t.TempDir()}})
}

const teamConfig = `sources:
  - name: platform
    path: platform
    role: platform
  - name: team-a
    path: team-a
    allow:
      resource-types: [ShinyProxyApp]
      target-namespaces: [apps]
  - name: team-b
    path: team-b
    allow:
      target-namespaces: [apps, other]
`

const shinyproxy = `laiki-metadata:
  target-type: ShinyProxy
  name: sp
  namespace: apps
laiki-spec:
  proxy:
    title: Apps
`

const defaults = `laiki-metadata:
  pre-processor-name: ShinyProxyAppDefaultsPreProcessor
  name: defaults
  target-namespace: apps
laiki-spec:
  fallback:
    container-cpu-request: 0.25
    container-memory-limit: 512Mi
  append:
    container-env:
      PLATFORM_VERSION: v1.2
  override:
    container-privileged: false
`

func app(id string, extra ...string) string {
	return "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: apps\nlaiki-spec:\n  id: " + id +
		"\n  container-image: registry.example.com/team/" + id + ":1\n" + strings.Join(extra, "")
}

// has finds a finding by severity, file suffix, line and message part.
func has(t *testing.T, res *pipeline.Result, sev finding.Severity, file string, line int, msg string) finding.Finding {
	t.Helper()
	for _, f := range res.Findings {
		if f.Severity == sev && strings.HasSuffix(f.File, file) && (line < 0 || f.Line == line) && strings.Contains(f.Message, msg) {
			return f
		}
	}
	t.Fatalf("no %s at %s:%d containing %q; findings:\n%s", sev, file, line, msg, dump(res.Findings))
	return finding.Finding{}
}

func dump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Location.String() + ": " + string(f.Severity) + ": " + f.Message + " [" + f.Policy + "]\n")
	}
	return b.String()
}

func resource(t *testing.T, res *pipeline.Result, id string) *pipeline.Resource {
	t.Helper()
	for _, r := range res.Resources {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no resource %s", id)
	return nil
}

// The bundled examples deploy as written: nothing to say about them. The
// design document's, kept as it has them, are accepted too, with what they
// draw: the namespace ShinyProxy mapped, the upper-case image, and the
// operator's keys the document leaves to the platform ("# ...").
func TestExamples(t *testing.T) {
	designWarnings := []string{
		"namespace ShinyProxy is not a valid Kubernetes namespace name",
		"openanalytics/ShinyProxy-demo has upper case letters",
		"no fqdn",
		"no image: the ShinyProxy operator runs openanalytics/shinyproxy:latest",
	}
	for _, c := range []struct {
		dir, cfg string
		warnings []string
	}{
		{"examples", "laiki.yaml", nil},
		{"examples", "laiki-with-data.yaml", nil},
		{"test/fixtures/design", "laiki.yaml", designWarnings},
		{"test/fixtures/design", "laiki-with-data.yaml", designWarnings},
	} {
		t.Run(c.dir+"/"+c.cfg, func(t *testing.T) {
			cfg, err := source.LoadConfig(filepath.Join("..", "..", c.dir, c.cfg))
			if err != nil {
				t.Fatal(err)
			}
			res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				t.Fatalf("examples must pass:\n%s", dump(res.Findings))
			}
			if c.warnings == nil && len(res.Findings) > 0 {
				t.Errorf("the bundled examples draw findings:\n%s", dump(res.Findings))
			}
			for _, want := range c.warnings {
				found := false
				for _, f := range res.Findings {
					found = found || (f.Severity == finding.Warn && strings.Contains(f.Message, want))
				}
				if !found {
					t.Errorf("no warning %q:\n%s", want, dump(res.Findings))
				}
			}
			demo := resource(t, res, "shinyproxy-demo").Spec.(map[string]any)
			want := map[string]any{
				"container-cpu-request": 0.25, "container-cpu-limit": int64(1),
				"container-memory-request": "256Mi", "container-memory-limit": "512Mi",
				"container-privileged": false,
				"container-env":        map[string]any{"PLATFORM_VERSION": "v1.2"},
			}
			for k, v := range want {
				if !reflect.DeepEqual(demo[k], v) {
					t.Errorf("%s = %#v, want %#v", k, demo[k], v)
				}
			}
		})
	}
}

func TestAccessControl(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":            teamConfig,
		"platform/sp.yaml":      shinyproxy,
		"team-a/target.yaml":    strings.ReplaceAll(shinyproxy, "name: sp", "name: mine"),
		"team-a/defaults.yaml":  defaults,
		"team-a/policy.rego":    "package laiki.governance.mine\n",
		"team-a/ecr.yaml":       "laiki-metadata:\n  resource-type: AwsEcrRepository\n  target-name: sp\n  target-namespace: apps\nlaiki-spec:\n  name: repo\n",
		"team-a/elsewhere.yaml": strings.ReplaceAll(app("x"), "target-namespace: apps", "target-namespace: other"),
		"team-a/ok.yaml":        app("ok"),
		"team-b/ecr.yaml":       "laiki-metadata:\n  resource-type: AwsEcrRepository\n  target-name: sp\n  target-namespace: apps\nlaiki-spec:\n  name: repo\n",
	})
	res := run(t, dir)
	has(t, res, finding.Error, "team-a/target.yaml", 1, "may not declare a target")
	has(t, res, finding.Error, "team-a/defaults.yaml", 1, "may not declare a pre-processor")
	has(t, res, finding.Error, "team-a/policy.rego", 1, "may not bring Rego policies")
	has(t, res, finding.Error, "team-a/ecr.yaml", 2, "may not declare AwsEcrRepository")
	has(t, res, finding.Error, "team-a/elsewhere.yaml", 4, "may not bind resources to namespace other")
	if !resource(t, res, "ok").Accepted {
		t.Error("the allowed app must still be accepted")
	}
	if !resource(t, res, "repo").Accepted {
		t.Error("team-b may declare any resource type")
	}
	if len(res.PreProcessors) != 0 {
		t.Error("a team's pre-processor must not take effect")
	}
}

func TestBindingAndIdentity(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":          teamConfig,
		"platform/sp.yaml":    shinyproxy + "---\nlaiki-metadata:\n  target-type: PrePuller\n  name: pp\n  namespace: apps\nlaiki-spec:\n",
		"team-a/one.yaml":     app("dup"),
		"team-b/two.yaml":     "# a comment\n" + app("dup"),
		"team-a/nowhere.yaml": strings.ReplaceAll(app("lost"), "target-name: sp", "target-name: nope"),
		"team-a/wrong.yaml":   strings.ReplaceAll(app("wrong"), "target-name: sp", "target-name: pp"),
		"team-a/noid.yaml":    "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: apps\nlaiki-spec:\n  container-image: nginx\n",
	})
	res := run(t, dir)
	f := has(t, res, finding.Error, "team-a/one.yaml", 1, "declared more than once")
	if !strings.Contains(f.Message, "team-b/two.yaml:2") {
		t.Errorf("the duplicate must name the other file and line: %s", f.Message)
	}
	has(t, res, finding.Error, "team-b/two.yaml", 2, "team-a/one.yaml:1")
	has(t, res, finding.Error, "team-a/nowhere.yaml", 3, "no target nope in namespace apps (targets: apps/sp, apps/pp)")
	has(t, res, finding.Error, "team-a/wrong.yaml", 3, "binds to a ShinyProxy target, and apps/pp is a PrePuller")
	has(t, res, finding.Error, "team-a/noid.yaml", 5, "needs id")
	for _, r := range res.Resources {
		if r.Accepted {
			t.Errorf("%s accepted", r.Key())
		}
	}
	if !res.Failed() {
		t.Error("run must fail")
	}
}

func TestSchema(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":       teamConfig,
		"platform/sp.yaml": shinyproxy,
		"team-a/bad.yaml": app("bad",
			"  container-memory-limit: lots\n",
			"  container-privileged: \"yes\"\n",
			"  container-env:\n    A: [1]\n",
			"  container-cmd: [R, 1]\n",
			"  contaner-image: typo\n"),
		"team-a/ok.yaml": app("ok", "  container-cpu-limit: 500m\n  container-memory-request: 1Gi\n"),
	})
	res := run(t, dir)
	has(t, res, finding.Error, "bad.yaml", 8, `"lots" is not a Kubernetes quantity`)
	has(t, res, finding.Error, "bad.yaml", 9, "must be true or false")
	has(t, res, finding.Error, "bad.yaml", 11, "container-env.A must be a plain value")
	has(t, res, finding.Error, "bad.yaml", 12, "container-cmd[1] must be a string")
	has(t, res, finding.Error, "bad.yaml", 13, "did you mean container-image?") // from a team, an unknown key is an error
	if resource(t, res, "bad").Accepted || !resource(t, res, "ok").Accepted {
		t.Error("bad must be rejected and ok accepted")
	}
}

func TestPreProcessors(t *testing.T) {
	narrow := strings.NewReplacer("name: defaults", "name: a-narrow\n  target-name: sp", "0.25", "0.5", "v1.2", "v9").Replace(defaults)
	dir := tree(t, map[string]string{
		"laiki.yaml":             teamConfig,
		"platform/sp.yaml":       shinyproxy,
		"platform/defaults.yaml": defaults,
		"platform/narrow.yaml":   narrow,
		"team-a/own.yaml": app("own",
			"  container-memory-limit: 1Gi\n",
			"  container-privileged: true\n",
			"  container-env:\n    MINE: x\n"),
		"team-a/bare.yaml": app("bare"),
	})
	res := run(t, dir)
	own := resource(t, res, "own")
	if !own.Accepted {
		t.Fatalf("own rejected:\n%s", dump(res.FindingsFor(own.Doc)))
	}
	spec := own.Spec.(map[string]any)
	if spec["container-memory-limit"] != "1Gi" {
		t.Errorf("fallback must not override the app's value: %v", spec["container-memory-limit"])
	}
	if spec["container-privileged"] != false {
		t.Errorf("override must force privileged off: %v", spec["container-privileged"])
	}
	env := spec["container-env"].(map[string]any)
	if env["MINE"] != "x" || env["PLATFORM_VERSION"] != "v9" {
		t.Errorf("append keeps the app's entries and the narrow pre-processor runs last: %v", env)
	}
	has(t, res, finding.Warn, "own.yaml", 9, "container-privileged: the platform sets false")

	bare := resource(t, res, "bare").Spec.(map[string]any)
	if bare["container-cpu-request"] != 0.25 {
		t.Errorf("the namespace's pre-processor runs first, so its fallback is the one set: %v", bare["container-cpu-request"])
	}
	if n := len(resource(t, res, "bare").PreProcessors); n != 2 {
		t.Errorf("want 2 pre-processors, got %d", n)
	}
}

func TestBrokenPreProcessorHoldsBack(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":             teamConfig,
		"platform/sp.yaml":       shinyproxy,
		"platform/defaults.yaml": defaults + "  sideways: {}\n",
		"team-a/app.yaml":        app("held"),
	})
	res := run(t, dir)
	has(t, res, finding.Error, "platform/defaults.yaml", 5, "unknown key sideways")
	has(t, res, finding.Error, "team-a/app.yaml", 1, "held back")
	if resource(t, res, "held").Accepted {
		t.Error("an app must not be deployed without the platform's pre-processor")
	}
}

func TestGovernance(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":        teamConfig,
		"platform/sp.yaml":  shinyproxy,
		"platform/own.yaml": app("platform-priv", "  container-privileged: true\n"),
		"platform/rules/labels.rego": `package laiki.governance.labels

deny contains {"msg": "display-name is required", "field": ["laiki-spec", "id"]} if {
	input["laiki-metadata"]["resource-type"] == "ShinyProxyApp"
	not input["laiki-spec"]["display-name"]
	input["laiki-source"].role == "team"
}

warn_no_limit contains "no memory limit" if {
	not input["laiki-spec"]["container-memory-limit"]
}
`,
		"team-a/priv.yaml":  app("priv", "  display-name: P\n  container-privileged: true\n"),
		"team-a/patch.yaml": app("patch", "  display-name: P\n  kubernetes-pod-patches: |\n    - op: add\n"),
		"team-a/vol.yaml":   app("vol", "  display-name: P\n  container-volumes: [\"/etc:/host\", \"data:/data\"]\n"),
		"team-a/label.yaml": app("label"),
		"team-a/image.yaml": strings.Replace(app("image", "  display-name: P\n"), "registry.example.com/team/image:1", "not an image", 1),
	})
	res := run(t, dir)
	has(t, res, finding.Deny, "priv.yaml", 9, "privileged containers")
	has(t, res, finding.Deny, "patch.yaml", 9, "kubernetes-pod-patches is a platform-level setting")
	has(t, res, finding.Deny, "vol.yaml", 9, `"/etc:/host" mounts a directory of the node`)
	f := has(t, res, finding.Deny, "label.yaml", 6, "display-name is required")
	if f.Policy != "laiki.governance.labels" {
		t.Errorf("policy = %s", f.Policy)
	}
	w := has(t, res, finding.Warn, "label.yaml", 5, "no memory limit")
	if w.Policy != "laiki.governance.labels.warn_no_limit" {
		t.Errorf("policy = %s", w.Policy)
	}
	has(t, res, finding.Deny, "image.yaml", 7, "not a valid image reference")
	if !resource(t, res, "platform-priv").Accepted {
		t.Errorf("the platform's own app may be privileged:\n%s", dump(res.Findings))
	}
	for _, id := range []string{"priv", "patch", "vol", "label", "image"} {
		if resource(t, res, id).Accepted {
			t.Errorf("%s accepted", id)
		}
	}
}

func TestBaselineTunable(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":       teamConfig + "policy-data:\n  baseline:\n    allowed-keys: [container-privileged]\n",
		"platform/sp.yaml": shinyproxy,
		"team-a/priv.yaml": app("priv", "  container-privileged: true\n"),
	})
	if res := run(t, dir); !resource(t, res, "priv").Accepted {
		t.Errorf("allowed-keys must exempt the key:\n%s", dump(res.Findings))
	}
}

func TestPolicyCompileError(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":           teamConfig,
		"platform/sp.yaml":     shinyproxy,
		"platform/broken.rego": "package laiki.governance.broken\n\ndeny contains msg if {\n\tmsg := undefined_thing\n}\n",
	})
	_, err := runErr(t, dir)
	var ce *policy.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("want a compile error, got %v", err)
	}
	if !strings.Contains(err.Error(), "platform/broken.rego:4:") {
		t.Errorf("the error must name file and line: %v", err)
	}
}

func TestCustomPreProcessor(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":       teamConfig,
		"platform/sp.yaml": shinyproxy,
		"platform/label.rego": `package laiki.preprocessors.TeamLabel

resource_types := {"ShinyProxyApp"}

spec := object.union(input["laiki-spec"], {"container-labels": {"team": input["laiki-source"].name, "tier": input.parameters.tier}})
`,
		"platform/label.yaml": "laiki-metadata:\n  pre-processor-name: TeamLabel\n  name: label\n  target-namespace: apps\nlaiki-spec:\n  tier: gold\n",
		"team-a/app.yaml":     app("labelled"),
	})
	res := run(t, dir)
	r := resource(t, res, "labelled")
	labels, _ := r.Spec.(map[string]any)["container-labels"].(map[string]any)
	if labels["team"] != "team-a" || labels["tier"] != "gold" || !r.Accepted {
		t.Errorf("labels = %v, accepted %v\n%s", labels, r.Accepted, dump(res.Findings))
	}
}

func TestDeterministic(t *testing.T) {
	files := map[string]string{"laiki.yaml": teamConfig, "platform/sp.yaml": shinyproxy, "platform/defaults.yaml": defaults}
	for i := range 50 {
		files["team-a/app"+string(rune('a'+i%26))+string(rune('a'+i/26))+".yaml"] = app("app"+string(rune('a'+i%26))+string(rune('a'+i/26)), "  container-privileged: true\n  kubernetes-pod-patches: x\n")
	}
	dir := tree(t, files)
	first := run(t, dir).Findings
	for range 3 {
		if again := run(t, dir).Findings; !reflect.DeepEqual(first, again) {
			t.Fatal("findings differ between runs")
		}
	}
}

func TestRunawayPolicyStopped(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":       teamConfig,
		"team-b/.keep":     "",
		"platform/sp.yaml": shinyproxy,
		"platform/slow.rego": `package laiki.governance.slow

deny contains "never" if {
	some i in numbers.range(1, 1000000000)
	i < 0
}
`,
		"team-a/app.yaml": app("slow"),
	})
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, PolicyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	has(t, res, finding.Error, "team-a/app.yaml", 1, "took too long")
	if resource(t, res, "slow").Accepted {
		t.Error("a resource whose policy did not finish must not be accepted")
	}
}

// Admitting each document on its own gives the verdict and the findings of
// the whole run: the webhook and `laiki check` agree.
func TestAdmitParity(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":             teamConfig,
		"team-b/.keep":           "",
		"platform/sp.yaml":       shinyproxy,
		"platform/defaults.yaml": defaults,
		"team-a/ok.yaml":         app("ok", "  container-env: {MINE: x}\n"),
		"team-a/priv.yaml":       app("priv", "  container-privileged: true\n"),
		"team-a/patch.yaml":      app("patch", "  kubernetes-pod-patches: x\n"),
		"team-a/badtype.yaml":    app("badtype", "  container-memory-limit: lots\n"),
		"team-a/image.yaml":      strings.Replace(app("image"), "registry.example.com/team/image:1", "Team/Image", 1),
		"team-a/nowhere.yaml":    strings.ReplaceAll(app("lost"), "target-name: sp", "target-name: nope"),
		"team-a/target.yaml":     strings.ReplaceAll(shinyproxy, "name: sp", "name: mine"),
	})
	res := run(t, dir)
	cfg, _ := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	byName := map[string]*source.Source{}
	for _, s := range cfg.Sources {
		byName[s.Name] = s
	}
	checked := 0
	for _, d := range res.Documents {
		if d.Source.Role == source.RolePlatform {
			continue
		}
		v := res.Admit(context.Background(), d, byName[d.Source.Name])
		want := res.FindingsFor(d)
		if !reflect.DeepEqual(v.Findings, sorted(want)) {
			t.Errorf("%s: Admit found\n%s\nRun found\n%s", d.File, dump(v.Findings), dump(want))
		}
		if d.Kind == document.Resource {
			r := resource(t, res, v.Resource.ID)
			if v.Allowed != r.Accepted || !reflect.DeepEqual(v.Resource.Spec, r.Spec) {
				t.Errorf("%s: Admit allowed %v with %v; Run accepted %v with %v", d.File, v.Allowed, v.Resource.Spec, r.Accepted, r.Spec)
			}
		}
		checked++
	}
	if checked != 7 {
		t.Errorf("checked %d documents", checked)
	}
}

func sorted(fs []finding.Finding) []finding.Finding {
	out := append([]finding.Finding(nil), fs...)
	finding.Sort(out)
	return out
}

// A Gate keeps the policy set in force when a new one does not compile,
// fails its tests, or calls the network; a good one takes over, and every
// decision names the revision that made it.
func TestPolicyReloadThroughGate(t *testing.T) {
	const tagRule = "package laiki.governance.tags\n\ndeny contains \"no latest\" if {\n\tendswith(input[\"laiki-spec\"][\"container-image\"], \":latest\")\n}\n"
	const tagTest = "package laiki.governance.tags_test\n\nimport data.laiki.governance.tags\n\ntest_latest if {\n\tcount(tags.deny) == 1 with input as {\"laiki-spec\": {\"container-image\": \"a:latest\"}}\n}\n"
	dir := tree(t, map[string]string{
		"laiki.yaml":              teamConfig,
		"team-b/.keep":            "",
		"platform/sp.yaml":        shinyproxy,
		"platform/tags.rego":      tagRule,
		"platform/tags_test.rego": tagTest,
		"team-a/app.yaml":         app("ok"),
		"team-a/latest.yaml":      strings.Replace(app("latest"), ":1", ":latest", 1),
		"team-a/privileged.yaml":  app("big", "  container-memory-limit: 64Gi\n"),
	})
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	gate := &policy.Gate{TestTimeout: time.Second}
	runGate := func() *pipeline.Result {
		t.Helper()
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Gate: gate})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, "platform", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	first := runGate()
	if first.Reload == nil || first.Reload.Refused() || !first.Reload.New || resource(t, first, "latest").Accepted || !resource(t, first, "big").Accepted {
		t.Fatalf("first set: %+v\n%s", first.Reload, dump(first.Findings))
	}
	inForce := first.Policies.Revision
	if resource(t, first, "ok").PolicyRevision != inForce {
		t.Error("a decision must carry the policy revision")
	}
	if again := runGate(); again.Reload.New || again.Policies != first.Policies {
		t.Error("the same files are judged once")
	}

	for name, tc := range map[string]struct{ file, text, why string }{
		"does not compile":  {"tags.rego", "package laiki.governance.tags\n\ndeny contains msg if {\n\tmsg := nothing_here\n}\n", "tags.rego:4"},
		"calls the network": {"net.rego", "package laiki.governance.net\n\ndeny contains \"x\" if {\n\thttp.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"}).status_code == 200\n}\n", "http.send"},
		"fails its tests":   {"tags.rego", strings.Replace(tagRule, ":latest", ":newest", 1), "tags_test.test_latest failed"},
	} {
		t.Run(name, func(t *testing.T) {
			old, _ := os.ReadFile(filepath.Join(dir, "platform", tc.file))
			write(tc.file, tc.text)
			defer func() {
				if old == nil {
					os.Remove(filepath.Join(dir, "platform", tc.file))
				} else {
					write(tc.file, string(old))
				}
			}()
			res := runGate()
			if !res.Reload.Refused() || !res.Reload.New || res.Reload.InForce != inForce || res.Policies.Revision != inForce {
				t.Fatalf("reload %+v", res.Reload)
			}
			f := has(t, res, finding.Error, "", -1, "stays in force")
			if !strings.Contains(f.Message, tc.why) || f.Policy != finding.CheckPolicies {
				t.Errorf("the refusal must say why (%s): %s", tc.why, f.Message)
			}
			// The old set still decides.
			if resource(t, res, "latest").Accepted || !resource(t, res, "ok").Accepted {
				t.Error("the set in force must keep deciding")
			}
			if again := runGate(); !again.Reload.Refused() || again.Reload.New {
				t.Error("a refused set is judged once, and stays refused while it is what is read")
			}
		})
	}

	// A stricter, good set takes over.
	write("size.rego", "package laiki.governance.size\n\ndeny contains \"too big\" if {\n\tinput[\"laiki-spec\"][\"container-memory-limit\"] == \"64Gi\"\n}\n")
	res := runGate()
	if res.Reload.Refused() || !res.Reload.New || res.Policies.Revision == inForce || resource(t, res, "big").Accepted {
		t.Errorf("the new set: %+v", res.Reload)
	}
	if resource(t, res, "big").PolicyRevision != res.Policies.Revision {
		t.Error("the decision names the new revision")
	}
}

// Decisions kept from run to run give the verdicts a fresh run gives, and
// a change to a file, a pre-processor or the policies is judged anew.
func TestDecisionsReused(t *testing.T) {
	files := map[string]string{"laiki.yaml": teamConfig, "team-b/.keep": "", "platform/sp.yaml": shinyproxy, "platform/defaults.yaml": defaults,
		"team-a/ok.yaml": app("ok"), "team-a/patched.yaml": app("patched", "  kubernetes-pod-patches: x\n  container-privileged: true\n")}
	dir := tree(t, files)
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decisions := &pipeline.Decisions{}
	runWith := func(d *pipeline.Decisions) *pipeline.Result {
		t.Helper()
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Decisions: d})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	same := func(step string) {
		t.Helper()
		cached, fresh := runWith(decisions), runWith(nil)
		if !reflect.DeepEqual(cached.Findings, fresh.Findings) {
			t.Errorf("%s: findings differ:\ncached:\n%s\nfresh:\n%s", step, dump(cached.Findings), dump(fresh.Findings))
		}
		for _, id := range []string{"ok", "patched"} {
			c, f := resource(t, cached, id), resource(t, fresh, id)
			if c.Accepted != f.Accepted || !reflect.DeepEqual(c.Spec, f.Spec) || len(c.Changes) != len(f.Changes) {
				t.Errorf("%s: %s differs: accepted %v/%v", step, id, c.Accepted, f.Accepted)
			}
			for i := range c.Changes {
				if c.Changes[i].PreProcessor.File != f.Changes[i].PreProcessor.File || c.Changes[i].Rule != f.Changes[i].Rule {
					t.Errorf("%s: %s change %d differs", step, id, i)
				}
			}
		}
	}
	runWith(decisions)
	same("unchanged")
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("team-a/ok.yaml", app("ok", "  container-memory-limit: 2Gi\n"))
	same("an app changed")
	write("platform/defaults.yaml", strings.Replace(defaults, "512Mi", "768Mi", 1))
	same("the pre-processor changed")
	if got := resource(t, runWith(decisions), "patched").Spec.(map[string]any)["container-memory-limit"]; got != "768Mi" {
		t.Errorf("the new default did not reach a cached app: %v", got)
	}
	write("platform/deny-ok.rego", "package laiki.governance.nook\n\ndeny contains \"no ok\" if {\n\tinput[\"laiki-spec\"].id == \"ok\"\n}\n")
	same("the policies changed")
	if resource(t, runWith(decisions), "ok").Accepted {
		t.Error("a new policy did not reach a cached app")
	}
}
