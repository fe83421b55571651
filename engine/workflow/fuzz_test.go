package workflow_test

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// FuzzMerge: whatever a ShinyProxy target's configuration and an app say,
// rendering (the merge of the apps into the target's configuration) never
// panics, its output is YAML that reads back, and an accepted app is in it.
func FuzzMerge(f *testing.F) {
	f.Add("proxy:\n  title: Apps\n", "id: a\ncontainer-image: r/a:1\n")
	f.Add("proxy: [1, 2]\n", "id: a\ncontainer-image: r/a:1\ncontainer-env: {A: '1'}\n")
	f.Add("proxy:\n  specs: []\nspring: {x: 1}\n", "id: a\ncontainer-image: r/a:1\nlabels: {x: y}\ncontainer-volumes: [data:/data]\n")
	f.Add("laiki-ecr: {prefix: p}\nproxy: {title: &t x, port: *t}\n", "id: a.b-c\ncontainer-image: r/a@sha256:0123456789abcdef0123456789abcdef\n")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, target, app string) {
		platform := document.SourceRef{Name: "platform", Role: source.RolePlatform}
		team := document.SourceRef{Name: "team", Role: source.RoleTeam}
		tp := document.Parse(platform, "sp.yaml", []byte("laiki-metadata:\n  target-type: ShinyProxy\n  name: sp\n  namespace: ns\nlaiki-spec:\n"+indent(target)), document.DefaultLimits)
		ap := document.Parse(team, "app.yaml", []byte("laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n"+indent(app)), document.DefaultLimits)
		if len(tp.Documents) != 1 || len(ap.Documents) != 1 {
			return
		}
		res, err := pipeline.Run(ctx, pipeline.Options{Config: &source.Config{}, Documents: []*document.Document{tp.Documents[0], ap.Documents[0]}})
		if err != nil {
			t.Fatal(err)
		}
		desired := workflow.RenderAndJudge(res)
		var accepted string
		for _, r := range res.Resources {
			if r.Accepted {
				accepted = r.ID
			}
		}
		for _, tg := range desired.Targets {
			b, err := yaml.Marshal(tg.Config)
			if err != nil {
				t.Fatalf("the rendered configuration does not write out: %v", err)
			}
			var back map[string]any
			if err := yaml.Unmarshal(b, &back); err != nil {
				t.Fatalf("the rendered configuration does not read back: %v\n%s", err, b)
			}
			if accepted != "" && tg.TargetType == "ShinyProxy" && !strings.Contains(string(b), "id: "+accepted) && !strings.Contains(string(b), "id: \""+accepted) {
				t.Fatalf("accepted app %s is not in the configuration:\n%s", accepted, b)
			}
		}
	})
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
