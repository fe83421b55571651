package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// A long-lived caller's runs take the documents of an unchanged file from
// the last run instead of parsing it again; they must give a fresh run's
// findings and verdicts, a key spelt otherwise warned about in every run
// (the document is renamed once, when first read), a changed file read
// anew, and a held version that never shares the findings of the version
// rejected now.
func TestParsesReused(t *testing.T) {
	files := map[string]string{"laiki.yaml": teamConfig, "team-b/.keep": "", "platform/sp.yaml": shinyproxy, "platform/defaults.yaml": defaults,
		"team-a/ok.yaml":      app("ok"),
		"team-a/spelt.yaml":   app("spelt", "  containerMemoryLimit: 1Gi\n"),
		"team-a/twice.yaml":   app("twice", "  container-cpu-limit: 1\n  containerCpuLimit: 2\n"),
		"team-a/changed.yaml": app("changed")}
	dir := tree(t, files)
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	parses, decisions := &pipeline.Parses{}, &pipeline.Decisions{}
	runWith := func(p *pipeline.Parses, d *pipeline.Decisions) *pipeline.Result {
		t.Helper()
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Parses: p, Decisions: d})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	same := func(step string, remembered *pipeline.Result) {
		t.Helper()
		fresh := runWith(nil, nil)
		if !reflect.DeepEqual(remembered.Findings, fresh.Findings) {
			t.Errorf("%s: findings differ:\nremembered:\n%s\nfresh:\n%s", step, dump(remembered.Findings), dump(fresh.Findings))
		}
		for _, id := range []string{"ok", "spelt", "twice", "changed"} {
			r, f := resource(t, remembered, id), resource(t, fresh, id)
			if r.Accepted != f.Accepted || !reflect.DeepEqual(r.Spec, f.Spec) || !reflect.DeepEqual(r.Doc.Spec, f.Doc.Spec) {
				t.Errorf("%s: %s differs: accepted %v/%v, spec %v / %v", step, id, r.Accepted, f.Accepted, r.Spec, f.Spec)
			}
		}
	}
	first := runWith(parses, decisions)
	has(t, first, "warn", "spelt.yaml", 8, "containerMemoryLimit is read as container-memory-limit")
	second := runWith(parses, decisions)
	same("unchanged", second)
	has(t, second, "warn", "spelt.yaml", 8, "containerMemoryLimit is read as container-memory-limit")
	if resource(t, first, "spelt").Doc != resource(t, second, "spelt").Doc {
		t.Error("an unchanged file was parsed again")
	}

	if err := os.WriteFile(filepath.Join(dir, "team-a/changed.yaml"), []byte(app("changed", "  container-memory-limit: 2Gi\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	third := runWith(parses, decisions)
	same("a file changed", third)
	if resource(t, second, "changed").Doc == resource(t, third, "changed").Doc {
		t.Error("a changed file was not read anew")
	}
	if got := resource(t, third, "changed").Spec.(map[string]any)["container-memory-limit"]; got != "2Gi" {
		t.Errorf("the change did not reach the spec: %v", got)
	}

	// The policies now reject an app whose file did not change: its
	// document is the one the last run accepted, and the version held in
	// its place must not be read as rejected.
	last := map[string]*pipeline.Resource{}
	for _, r := range third.Resources {
		if r.Accepted {
			last[r.Key()] = r
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "platform/deny-ok.rego"), []byte("package laiki.governance.nook\n\ndeny contains \"no ok\" if {\n\tinput[\"laiki-spec\"].id == \"ok\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fourth := runWith(parses, decisions)
	same("the policies changed", fourth)
	rejected := resource(t, fourth, "ok")
	if rejected.Accepted || rejected.Doc != last[rejected.Key()].Doc {
		t.Fatalf("want the unchanged ok rejected on the document last accepted (accepted %v)", rejected.Accepted)
	}
	held := fourth.Hold(last)
	if len(held) != 1 || held[0].ID != "ok" {
		t.Fatalf("held %v, want ok", held)
	}
	if held[0].Doc == rejected.Doc || fourth.InError(held[0].Doc) || len(fourth.FindingsFor(held[0].Doc)) > 0 {
		t.Errorf("the held version shares the rejected one's document and findings: %s", dump(fourth.FindingsFor(held[0].Doc)))
	}
	if !strings.Contains(dump(fourth.FindingsFor(rejected.Doc)), "no ok") {
		t.Errorf("the rejected version lost its finding: %s", dump(fourth.FindingsFor(rejected.Doc)))
	}
}
