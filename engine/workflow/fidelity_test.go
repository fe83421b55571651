package workflow_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// What was judged is what is rendered: the target's configuration as the
// engine read it (merge keys, single or a list, and aliases resolved) is
// the configuration rendered, less what workflows own (proxy.specs, Laiki's
// laiki-ecr and laiki-kubernetes-namespace, the app pods' namespace Laiki
// sets where the platform did not); and an accepted app is rendered as the
// spec the policies judged, less Laiki's own keys.
func FuzzRenderedIsJudged(f *testing.F) {
	f.Add("common: &common {title: Apps, logo-url: x}\nmore: &more {port: 9090, title: Other}\nproxy: {<<: [*common, *more], port: 8080}\n",
		"id: a\ncontainer-image: r/a:1\n")
	f.Add("base: &b {a: 1}\nproxy: {<<: *b, title: T}\n", "id: a\ncontainer-image: r/a:1\nextra: &e {x: 1}\ncontainer-env: {<<: *e, y: '2'}\n")
	f.Add("proxy:\n  title: Apps\n  <<: [{title: no, port: 1}, {port: 2, landing-page: /}]\n", "id: a\ncontainer-image: r/a:1\ncontainer-cmd: [a, b]\n")
	f.Add("proxy: {title: &t x, port: *t}\n", "id: a\ncontainer-image: r/a:1\ncontainerEnv: {A: '1'}\nmaxInstances: 2\n")
	f.Add("proxy: {containerBackend: kubernetes, kubernetes: {image-pull-secret: r}}\nlaiki-kubernetes-namespace: apps\n", "id: a\ncontainer-image: r/a:1\n")
	f.Add("proxy: {container-backend: kubernetes, kubernetes: {namespace: ''}}\n", "id: a\ncontainer-image: r/a:1\n")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, target, app string) {
		platform := document.SourceRef{Name: "platform", Role: source.RolePlatform}
		// fqdn: a target without it is in error, and renders nothing to compare.
		tp := document.Parse(platform, "sp.yaml", []byte("laiki-metadata:\n  target-type: ShinyProxy\n  name: sp\n  namespace: ns\nlaiki-spec:\n  fqdn: sp.example.com\n"+indent(target)), document.DefaultLimits)
		ap := document.Parse(platform, "app.yaml", []byte("laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n"+indent(app)), document.DefaultLimits)
		if len(tp.Documents) != 1 || len(ap.Documents) != 1 || tp.Documents[0].Broken || ap.Documents[0].Broken {
			return
		}
		res, err := pipeline.Run(ctx, pipeline.Options{Config: &source.Config{}, Documents: []*document.Document{tp.Documents[0], ap.Documents[0]}})
		if err != nil {
			t.Fatal(err)
		}
		desired := workflow.RenderAndJudge(res)
		if len(res.Targets) != 1 || len(desired.Targets) != 1 {
			return
		}
		judged, _ := asJSON(t, res.Targets[0].Spec).(map[string]any)
		var rendered map[string]any
		for _, o := range desired.Targets[0].Objects {
			if m, _ := asJSON(t, o).(map[string]any); m["kind"] == "ShinyProxy" {
				rendered, _ = m["spec"].(map[string]any)
			}
		}
		if judged == nil || rendered == nil {
			return
		}
		unplaced(judged, rendered)
		var specs []any
		if p, ok := rendered["proxy"].(map[string]any); ok {
			specs, _ = p["specs"].([]any)
			delete(p, "specs")
			if p2, ok := judged["proxy"].(map[string]any); ok {
				delete(p2, "specs")
			} else if len(p) == 0 {
				delete(rendered, "proxy") // the workflow made proxy for specs
			}
		}
		delete(judged, "laiki-ecr")
		delete(judged, workflow.KubeNamespaceKey)
		if !reflect.DeepEqual(judged, rendered) {
			t.Fatalf("the rendered configuration is not the one judged:\njudged   %s\nrendered %s", js(judged), js(rendered))
		}
		for _, r := range res.Resources {
			if !r.Accepted {
				continue
			}
			want, _ := asJSON(t, r.Spec).(map[string]any)
			delete(want, "crane-data-repository")
			if len(specs) != 1 || !reflect.DeepEqual(asJSON(t, specs[0]), want) {
				t.Fatalf("the rendered app is not the one judged:\njudged   %s\nrendered %s", js(want), js(specs))
			}
		}
	})
}

// unplaced takes out of the rendered configuration where Laiki placed app
// pods (proxy.kubernetes.namespace): it sets it where the platform left it
// unset, null or empty.
func unplaced(judged, rendered map[string]any) {
	rp, _ := rendered["proxy"].(map[string]any)
	rk, _ := rp["kubernetes"].(map[string]any)
	jp, _ := judged["proxy"].(map[string]any)
	jk, hadK := jp["kubernetes"].(map[string]any)
	if ns := jk["namespace"]; rk == nil || (ns != nil && ns != "") {
		return // nothing placed, or the platform's own
	}
	if _, had := jk["namespace"]; had {
		jk["namespace"] = rk["namespace"]
		return
	}
	delete(rk, "namespace")
	if !hadK && len(rk) == 0 {
		delete(rp, "kubernetes")
	}
}

// asJSON gives a value as JSON has it, whatever held it (a YAML tree, the
// engine's values), so that two can be compared.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	var b []byte
	var err error
	if n, ok := v.(*yaml.Node); ok {
		b, err = json.Marshal(workflow.Ordered{Node: n})
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
