package plan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/plan"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/gittest"
)

// platform is a ShinyProxy target and the defaults pre-processor: a memory
// limit of 512Mi for apps that give none, and never a privileged container.
func platform(memory string) map[string]string {
	return map[string]string{
		"platform/shinyproxy.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: ShinyProxy}\nlaiki-spec:\n  proxy: {title: t}\n",
		"platform/defaults.yaml": "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: defaults, target-namespace: ShinyProxy}\n" +
			"laiki-spec:\n  fallback:\n    container-memory-limit: " + memory + "\n  override:\n    container-privileged: false\n",
	}
}

// app is a team's app file with extra spec lines.
func app(id string, extra ...string) string {
	return "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: ShinyProxy}\nlaiki-spec:\n  id: " + id +
		"\n  container-image: registry.example.com/team/" + id + ":1\n" + strings.Join(extra, "")
}

// run checks files as a pull request is checked (platform/ a platform
// source, apps/ a team's), workflows included, as `laiki check` does.
func run(t *testing.T, files map[string]string) *pipeline.Result {
	t.Helper()
	dir := t.TempDir()
	gittest.Write(t, dir, files)
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := source.PlatformPathsConfig([]string{filepath.Join(dir, "platform")}, []string{filepath.Join(dir, "apps")}, []string{"ShinyProxy"})
	cfg.Sources[0].Name, cfg.Sources[1].Name = "platform", team
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Load: source.Options{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	workflow.RenderAndJudge(res)
	return res
}

func with(base map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

const (
	key  = "ShinyProxyApp ShinyProxy/sp/"
	team = "team" // the apps' source
)

// brief is a change without its file's directory (each run has its own).
type brief struct {
	Resource string
	Kind     plan.Kind
	File     string
	Source   string
	Accepted bool
	Diff     []plan.FieldChange
}

func briefs(p *plan.Plan) []brief {
	var out []brief
	for _, c := range p.Changes {
		out = append(out, brief{c.Resource, c.Kind, filepath.Base(c.File), c.Source, c.Accepted, c.Diff})
	}
	return out
}

// A pull request that adds an app, removes one, changes one's memory, and
// writes down in another the memory the platform gave it anyway: the plan
// has the first three, each with what the platform will run; the fourth
// changes nothing that runs.
func TestCompareAddedRemovedChanged(t *testing.T) {
	p512 := platform("512Mi")
	base := run(t, with(p512, map[string]string{
		"apps/demo.yaml":     app("demo"),
		"apps/old.yaml":      app("old"),
		"apps/explicit.yaml": app("explicit"),
		"apps/same.yaml":     app("same"),
	}))
	head := run(t, with(p512, map[string]string{
		"apps/demo.yaml":     app("demo", "  container-memory-limit: 1Gi\n"),
		"apps/explicit.yaml": app("explicit", "  container-memory-limit: 512Mi\n"),
		"apps/same.yaml":     app("same"),
		"apps/new.yaml":      app("new"),
	}))
	if head.Failed() || base.Failed() {
		t.Fatalf("the runs must pass: base %v\nhead %v", base.Findings, head.Findings)
	}
	p := plan.Compare(base, head)
	want := []brief{
		{key + "new", plan.Added, "new.yaml", team, true, nil},
		{key + "demo", plan.Changed, "demo.yaml", team, true, []plan.FieldChange{{Path: "laiki-spec.container-memory-limit", Before: "512Mi", After: "1Gi"}}},
		{key + "old", plan.Removed, "old.yaml", team, false, nil},
	}
	if got := briefs(p); !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n%+v\nwant\n%+v", got, want)
	}
	if p.Unchanged != 2 {
		t.Errorf("unchanged %d, want 2 (same, and explicit, whose file changed and whose settings did not)", p.Unchanged)
	}
	if p.Count(plan.Added) != 1 || p.Count(plan.Held) != 0 {
		t.Errorf("counts: %d added, %d held", p.Count(plan.Added), p.Count(plan.Held))
	}
}

// The platform's defaults are part of what runs: when the pull request
// raises the platform's fallback, every app that relies on it changes, and
// an app that sets its own limit does not. And a privileged container the
// team asks for is overridden: nothing of it reaches the platform.
func TestComparePreProcessorsDecide(t *testing.T) {
	apps := map[string]string{
		"apps/relies.yaml": app("relies"),
		"apps/own.yaml":    app("own", "  container-memory-limit: 2Gi\n"),
	}
	base := run(t, with(platform("512Mi"), apps))
	head := run(t, with(platform("1Gi"), with(apps, map[string]string{
		"apps/priv.yaml": app("priv"),
	})))
	p := plan.Compare(base, head)
	want := []brief{
		{key + "priv", plan.Added, "priv.yaml", team, true, nil},
		{key + "relies", plan.Changed, "relies.yaml", team, true, []plan.FieldChange{{Path: "laiki-spec.container-memory-limit", Before: "512Mi", After: "1Gi"}}},
	}
	if got := briefs(p); !reflect.DeepEqual(got, want) || p.Unchanged != 1 {
		t.Errorf("plan (unchanged %d, want 1)\n%+v\nwant\n%+v", p.Unchanged, got, want)
	}

	// The same apps, one now asking for a privileged container: the
	// override keeps it unprivileged, so the platform runs what it ran.
	priv := run(t, with(platform("1Gi"), with(apps, map[string]string{
		"apps/priv.yaml": app("priv", "  container-privileged: true\n"),
	})))
	if p := plan.Compare(head, priv); len(p.Changes) != 0 || p.Unchanged != 3 {
		t.Errorf("a setting the platform overrides changes nothing: %+v", briefs(p))
	}
}

// A rejected update is not deployed: the running version is held, and the
// plan says so with the change refused, as the team wrote it (rejected
// before the pre-processors, it has no effective settings). A new app that is rejected
// will not run; one rejected before and after is not in the plan.
func TestCompareRejectedIsHeld(t *testing.T) {
	p512 := platform("512Mi")
	base := run(t, with(p512, map[string]string{
		"apps/demo.yaml":  app("demo"),
		"apps/still.yaml": app("still", "  container-memory-limit: lots\n"),
	}))
	head := run(t, with(p512, map[string]string{
		"apps/demo.yaml":  app("demo", "  container-memory-limit: lots\n"),
		"apps/still.yaml": app("still", "  container-memory-limit: lots\n"),
		"apps/new.yaml":   app("new", "  container-memory-limit: lots\n"),
	}))
	if !head.Failed() {
		t.Fatalf("the head must reject: %v", head.Findings)
	}
	p := plan.Compare(base, head)
	want := []brief{
		{key + "demo", plan.Held, "demo.yaml", team, false, []plan.FieldChange{{Path: "laiki-spec.container-memory-limit", After: "lots"}}},
		{key + "new", plan.Rejected, "new.yaml", team, false, nil},
	}
	if got := briefs(p); !reflect.DeepEqual(got, want) || p.Unchanged != 0 {
		t.Errorf("plan (unchanged %d)\n%+v\nwant\n%+v", p.Unchanged, got, want)
	}
}

// resource is a hand-made resource of a result, for the cases a run on
// files does not easily give.
func resource(id, file string, accepted bool, spec map[string]any) *pipeline.Resource {
	return &pipeline.Resource{ID: id, Accepted: accepted, Spec: spec, Doc: &document.Document{
		Kind: document.Resource, Type: "ShinyProxyApp", TargetNamespace: "ShinyProxy", TargetName: "sp",
		File: file, Line: 1, Source: document.SourceRef{Name: team, Role: source.RoleTeam},
	}}
}

func target() *document.Document {
	return &document.Document{Kind: document.Target, Type: "ShinyProxy", Namespace: "ShinyProxy", Name: "sp"}
}

// Held as the reconcile loop holds: not when the target is gone (nothing
// to run it on: removed), and for every resource of a source that could
// not be read (its last read stands).
func TestCompareHoldsAsTheReconcileLoop(t *testing.T) {
	spec := map[string]any{"id": "a"}
	base := &pipeline.Result{Index: pipeline.Index{Targets: []*document.Document{target()}}, Resources: []*pipeline.Resource{
		resource("a", "apps/a.yaml", true, spec), resource("b", "apps/b.yaml", true, map[string]any{"id": "b"}),
	}}
	gone := &pipeline.Result{Resources: []*pipeline.Resource{resource("a", "apps/a.yaml", false, spec)}}
	for _, c := range plan.Compare(base, gone).Changes {
		if c.Kind != plan.Removed {
			t.Errorf("%s: %s, want removed (its target is gone)", c.Resource, c.Kind)
		}
	}
	src := &source.Source{Name: team, Role: source.RoleTeam, Path: "apps"}
	unread := &pipeline.Result{Index: pipeline.Index{Targets: []*document.Document{target()}}, Sources: []*source.Loaded{{Source: src, Failed: true}}}
	p := plan.Compare(base, unread)
	if len(p.Changes) != 2 || p.Changes[0].Kind != plan.Held || p.Changes[1].Kind != plan.Held || p.Changes[0].File != "apps/a.yaml" {
		t.Errorf("a source that could not be read keeps what it had: %+v", p.Changes)
	}
}

// The plan is the same whatever order the runs list their resources in,
// and numbers are compared by value.
func TestCompareDeterministic(t *testing.T) {
	mk := func(rev bool, cpu any) *pipeline.Result {
		r := &pipeline.Result{Index: pipeline.Index{Targets: []*document.Document{target()}}}
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			r.Resources = append(r.Resources, resource(id, "apps/"+id+".yaml", true, map[string]any{"id": id, "container-cpu-limit": cpu}))
		}
		if rev {
			for i, j := 0, len(r.Resources)-1; i < j; i, j = i+1, j-1 {
				r.Resources[i], r.Resources[j] = r.Resources[j], r.Resources[i]
			}
		}
		return r
	}
	if p := plan.Compare(mk(false, int64(1)), mk(true, 1.0)); len(p.Changes) != 0 || p.Unchanged != 5 {
		t.Errorf("1 and 1.0 are one CPU: %+v", p.Changes)
	}
	first, _ := json.Marshal(plan.Compare(mk(false, int64(1)), mk(true, 2.5)))
	for range 20 {
		again, _ := json.Marshal(plan.Compare(mk(true, int64(1)), mk(false, 2.5)))
		if string(again) != string(first) {
			t.Fatalf("two plans of the same runs differ:\n%s\n%s", first, again)
		}
	}
}

// Diff walks maps, keeps lists whole, quotes keys that are not plain
// names, and takes a null for no setting.
func TestDiffPaths(t *testing.T) {
	before := map[string]any{"container-env": map[string]any{"A.B": "1", "KEEP": "x"}, "access-groups": []any{"a"}, "gone": "g", "nulled": nil}
	after := map[string]any{"container-env": map[string]any{"A.B": "2", "KEEP": "x", "NEW": "n"}, "access-groups": []any{"a", "b"}, "env": map[string]any{}}
	got := plan.Diff(before, after)
	want := []plan.FieldChange{
		{Path: "laiki-spec.access-groups", Before: []any{"a"}, After: []any{"a", "b"}},
		{Path: `laiki-spec.container-env.NEW`, After: "n"},
		{Path: `laiki-spec.container-env["A.B"]`, Before: "1", After: "2"},
		{Path: "laiki-spec.env", After: map[string]any{}},
		{Path: "laiki-spec.gone", Before: "g"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diff\n%#v\nwant\n%#v", got, want)
	}
}
