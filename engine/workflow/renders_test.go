package workflow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// A long-lived caller's runs take a target's render from the last run
// when nothing it was rendered from changed; they must give, object for
// object, a fresh render's desired state and verdicts, and render again
// exactly the targets whose inputs changed: an app of theirs, an app of
// the namespace (the PrePuller, the Crane owners), a target they read, the
// clock past the PrePuller's refresh interval, an app a workflow took back.
func TestRendersReused(t *testing.T) {
	// The PrePuller in a file of its own, to change the others under it.
	prePuller := "laiki-metadata: {target-type: PrePuller, name: pull, namespace: apps}\nlaiki-spec:\n"
	platform := strings.Replace(platformFiles, prePuller, "", 1)
	platform = strings.Replace(platform, "  proxy: {title: Two, container-backend: docker}\n", "  proxy: {title: Two, container-backend: docker}\n  laiki-ecr: {name-prefix: team-a/}\n", 1)
	// A ShinyProxy target with no app, whose pull secret the PrePuller uses.
	empty := func(secret string) string {
		return "laiki-metadata: {target-type: ShinyProxy, name: empty, namespace: apps}\nlaiki-spec:\n  proxy:\n    title: Empty\n" +
			"    container-backend: kubernetes\n    kubernetes: {image-pull-secret: " + secret + "}\n"
	}
	dir := tree(t, map[string]string{
		"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n" +
			"  - {name: team-a, path: team-a, allow: {target-namespaces: [apps, other]}}\n",
		"platform/p.yaml":     platform,
		"platform/pull.yaml":  prePuller + "  refresh: 24h\n",
		"platform/empty.yaml": empty("first"),
		"team-a/a.yaml":       app("one", "apps", "a", "nginx:1"),
		"team-a/b.yaml":       app("one", "apps", "b", "redis"),
		"team-a/c.yaml":       app("two", "apps", "c", "nginx:1"),
		"team-a/d.yaml":       app("three", "other", "d", "redis:7"),
		"team-a/upper.yaml":   app("one", "apps", "upper", "Team/App:1"),
		"team-a/nodata.yaml":  app("one", "apps", "nodata", "nginx:1", "  crane-data-repository: {name: missing, crane: nowhere}\n"),
		"team-a/data.yaml":    app("one", "apps", "data", "nginx:1", "  crane-data-repository: {name: data}\n"),
		"team-a/repo.yaml":    "laiki-metadata: {resource-type: AwsEcrRepository, target-name: two, target-namespace: apps}\nlaiki-spec:\n  name: repo\n",
	})
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	parses, decisions, renders := &pipeline.Parses{}, &pipeline.Decisions{}, &workflow.Renders{}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	render := func(remember bool) (string, []string) {
		t.Helper()
		opts := pipeline.Options{Config: cfg}
		o := workflow.Options{Now: now, Encoded: true}
		if remember {
			opts.Parses, opts.Decisions, o.Renders = parses, decisions, renders
		}
		res, err := pipeline.Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		d := workflow.RenderAndJudgeWith(res, o)
		var rendered []string
		if remember {
			rendered = renders.Rendered()
			renders.Sweep()
		}
		var b strings.Builder
		for _, tg := range d.Targets {
			fmt.Fprintf(&b, "target %s/%s %s %v\n", tg.Namespace, tg.Name, tg.ConfigFile, tg.Workflows)
			for i := range tg.Objects {
				raw, err := tg.ObjectJSON(i)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "  %s\n", raw)
			}
		}
		for _, x := range d.External {
			fmt.Fprintf(&b, "external %s %s %s %s\n", x.Type, x.Name, x.Resource, yamlOf(t, x.Desired))
		}
		for _, f := range res.Findings {
			fmt.Fprintf(&b, "%s %s %s %s\n", f.Location, f.Severity, f.Resource, f.Message)
		}
		for _, r := range res.Resources {
			fmt.Fprintf(&b, "%s accepted=%v\n", r.Key(), r.Accepted)
		}
		return b.String(), rendered
	}
	step := func(name string, wantRendered ...string) {
		t.Helper()
		got, rendered := render(true)
		fresh, _ := render(false)
		if got != fresh {
			t.Errorf("%s: the render differs from a fresh one:\nremembered:\n%s\nfresh:\n%s", name, got, fresh)
		}
		slices.Sort(wantRendered)
		if !slices.Equal(rendered, wantRendered) {
			t.Errorf("%s: rendered anew %v, want %v", name, rendered, wantRendered)
		}
	}
	write := func(rel, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{"apps/crane", "apps/empty", "apps/one", "apps/pull", "apps/two", "other/three"}
	step("first run", all...)
	step("unchanged")
	// An app of target two: two, and what reads the namespace's apps.
	write("team-a/c.yaml", app("two", "apps", "c", "nginx:2"))
	step("an app changed", "apps/two", "apps/pull", "apps/crane")
	// An app of another namespace: only its target.
	write("team-a/d.yaml", app("three", "other", "d", "redis:8"))
	step("an app elsewhere changed", "other/three")
	// The ECR repository: target two alone.
	write("team-a/repo.yaml", "laiki-metadata: {resource-type: AwsEcrRepository, target-name: two, target-namespace: apps}\nlaiki-spec:\n  name: repo2\n")
	step("a repository changed", "apps/two")
	// The clock: within the refresh interval nothing, past it the PrePuller.
	now = now.Add(11 * time.Hour)
	step("within the interval")
	now = now.Add(time.Hour)
	step("past the interval", "apps/pull")
	// An app fixed that a workflow took back, and one taken back now.
	write("team-a/upper.yaml", app("one", "apps", "upper", "team/app:1"))
	write("team-a/a.yaml", app("one", "apps", "a", "Team/Other:1"))
	step("late rejections moved", "apps/one", "apps/pull", "apps/crane")
	// A Crane repository claimed by another app of the namespace: the
	// owner by id keeps it, and the targets that mount or list it render.
	write("team-a/c.yaml", app("two", "apps", "c", "nginx:2", "  crane-data-repository: {name: data}\n"))
	step("a claim on a repository", "apps/two", "apps/pull", "apps/crane")
	// A target with no app: itself, and the PrePuller that reads it.
	write("platform/empty.yaml", empty("second"))
	step("a target read by another changed", "apps/empty", "apps/pull")
	// The app that owned it gives it up: the other app, unchanged, owns it
	// now, and its target renders again.
	write("team-a/data.yaml", app("one", "apps", "data", "nginx:1"))
	step("a repository given up", "apps/one", "apps/two", "apps/pull", "apps/crane")
	// The platform's file: every target in it is read anew, and the
	// PrePuller, which takes the pull secrets of the ShinyProxy targets;
	// the one in a file of its own, with no app, stays.
	write("platform/p.yaml", strings.Replace(platform, "image-pull-secret: regcred", "image-pull-secret: other", 1))
	step("the platform changed", "apps/crane", "apps/one", "apps/pull", "apps/two", "other/three")
}

// A remembered render's questions name targets by what they are, not by
// the document read when they were asked: read anew (no Parses), an
// unchanged target with no app is a new document, and an app bound to it
// since must be rendered into it.
func TestRendersAskOfTheTargetRead(t *testing.T) {
	dir := tree(t, map[string]string{
		"laiki.yaml":      "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team-a, path: team-a, allow: {target-namespaces: [apps]}}\n",
		"platform/p.yaml": "laiki-metadata: {target-type: ShinyProxy, name: one, namespace: apps}\nlaiki-spec:\n  proxy: {title: One}\n",
		"team-a/.keep":    "",
	})
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decisions, renders := &pipeline.Decisions{}, &workflow.Renders{}
	ids := func() string {
		t.Helper()
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Decisions: decisions})
		if err != nil {
			t.Fatal(err)
		}
		d := workflow.RenderAndJudgeWith(res, workflow.Options{Encoded: true, Renders: renders})
		renders.Sweep()
		raw, err := byName(t, d, "apps", "one").ObjectJSON(0)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	ids()
	if err := os.WriteFile(filepath.Join(dir, "team-a", "a.yaml"), []byte(app("one", "apps", "a", "nginx:1")), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !strings.Contains(got, `"id":"a"`) {
		t.Errorf("an app bound since to an unchanged target with no app is not rendered: %s", got)
	}
}
