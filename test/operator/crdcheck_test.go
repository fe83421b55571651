package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/gittest"
)

const crdNamespace = "crd-check"

// crdCase is a ShinyProxy resource's spec, and whether the API server
// (with the operator's CRD installed) takes it from a server-side apply,
// as Laiki writes it. A create takes the same, but for a null where the
// CRD types a value: a create drops it (nullCreated), an apply keeps it.
type crdCase struct {
	name        string
	spec        map[string]any
	valid       bool
	nullCreated bool
}

func crdCases() []crdCase {
	proxy := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"fqdn": "sp.example.com", "proxy": m}
	}
	app := func(kv ...any) map[string]any {
		m := map[string]any{"id": "a"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return proxy("specs", []any{m})
	}
	return []crdCase{
		{"minimal", proxy(), true, false},
		{"typed values of their types", proxy("title", "T", "port", 8080, "authentication", "openid", "hideNavbar", true,
			"adminGroups", []any{"admins"}, "heartbeatRate", 10000), true, false},
		{"an app of typed values", app("containerMemory", "1Gi", "containerCmd", []any{"R"}, "containerEnv", map[string]any{"A": "1"},
			"containerPrivileged", false, "accessGroups", []any{"g"}), true, false},
		{"kebab-case keys are unknown fields, kept unchecked", app("container-memory", 512, "heartbeat-rate", "x", "container-env", "x"), true, false},
		{"a null where the CRD types a string", proxy("title", nil), false, true},
		{"no fqdn", map[string]any{"proxy": map[string]any{}}, false, false},
		{"a null fqdn", map[string]any{"fqdn": nil, "proxy": map[string]any{}}, false, false},
		{"no proxy", map[string]any{"fqdn": "sp.example.com"}, false, false},
		{"proxy.port a string", proxy("port", "8080"), false, false},
		{"proxy.port not whole", proxy("port", 80.5), false, false},
		{"authentication outside the enum", proxy("authentication", "foo"), false, false},
		{"hideNavbar a string", proxy("hideNavbar", "true"), false, false},
		{"adminGroups a string", proxy("adminGroups", "admins"), false, false},
		{"image a number", map[string]any{"fqdn": "x", "proxy": map[string]any{}, "image": 5}, false, false},
		{"appNamespaces with a number", map[string]any{"fqdn": "x", "proxy": map[string]any{}, "appNamespaces": []any{"a", 1}}, false, false},
		{"an app's containerMemory a number", app("containerMemory", 512), false, false},
		{"an app's containerCmd with a number", app("containerCmd", []any{"R", 1}), false, false},
		{"an app's containerEnv a string", app("containerEnv", "A=1"), false, false},
		{"an app without id", proxy("specs", []any{map[string]any{"displayName": "A"}}), false, false},
	}
}

// shinyProxyObject makes a ShinyProxy resource as the API's JSON decoding
// has it (integers as int64).
func shinyProxyObject(t *testing.T, name string, spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"apiVersion": "openanalytics.eu/v1", "kind": "ShinyProxy",
		"metadata": map[string]any{"name": name, "namespace": crdNamespace},
		"spec":     spec,
	})
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return obj
}

// typedPatch is how a server-side apply refuses a value of another type
// than the schema's, before validation: by the path of the field.
var typedPatch = regexp.MustCompile(`failed to create typed patch object \([^)]*\): \.([^:]+):`)

// refusedFields lists the fields an error of the API server names.
func refusedFields(err error) []string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	if m := typedPatch.FindStringSubmatch(status.Status().Message); m != nil {
		return []string{m[1]}
	}
	var out []string
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Field != "" && c.Field != "<nil>" {
				out = append(out, c.Field)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Laiki's validator and the API server agree: what one takes the other
// takes, what one refuses the other refuses at the same fields, for a
// server-side apply (how Laiki writes) and a create (but for nulls).
func TestCRDCheckAgreesWithTheAPIServer(t *testing.T) {
	ctx := context.Background()
	namespace(t, crdNamespace)
	for i, tc := range crdCases() {
		obj := shinyProxyObject(t, fmt.Sprintf("case-%d", i), tc.spec)
		errs, err := workflow.ValidateShinyProxy(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		var mine []string
		for _, e := range errs {
			if e.Field != "<nil>" {
				mine = append(mine, e.Field)
			}
		}
		sort.Strings(mine)
		created := admin.Create(ctx, obj.DeepCopy(), client.DryRunAll)
		applied := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.FieldOwner("laiki"), client.ForceOwnership, client.DryRunAll)
		if (len(errs) == 0) != tc.valid {
			t.Errorf("%s: Laiki's validator says %v, want valid=%v", tc.name, errs.ToAggregate(), tc.valid)
		}
		if (applied == nil) != tc.valid || (created == nil) != (tc.valid || tc.nullCreated) {
			t.Errorf("%s: the API server: apply %v, create %v; want valid=%v", tc.name, applied, created, tc.valid)
		}
		if server := refusedFields(applied); strings.Join(server, ",") != strings.Join(mine, ",") {
			t.Errorf("%s: the API server's apply refuses %v, Laiki %v (%v)", tc.name, server, mine, applied)
		}
		if server := refusedFields(created); !tc.nullCreated && strings.Join(server, ",") != strings.Join(mine, ",") {
			t.Errorf("%s: the API server's create refuses %v, Laiki %v (%v)", tc.name, server, mine, created)
		}
		t.Logf("%-50s laiki %-42s apply %-42s create %s", tc.name, strings.Join(mine, ","), strings.Join(refusedFields(applied), ","), strings.Join(refusedFields(created), ","))
	}
}

// A platform whose one app would break its ShinyProxy resource: rendered
// without it, the resource is taken by the API server, with the other
// app; a platform value of the wrong type is an error, and the API server
// refuses that target's resource as the error says.
func TestCRDCheckRenderIsAccepted(t *testing.T) {
	ctx := context.Background()
	namespace(t, crdNamespace)
	dir := t.TempDir()
	files := map[string]string{
		"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/targets.yaml": `laiki-metadata: {target-type: ShinyProxy, name: good, namespace: ` + crdNamespace + `}
laiki-spec:
  fqdn: good.example.com
  proxy: {title: Good, port: 8080, authentication: none}
---
laiki-metadata: {target-type: ShinyProxy, name: bad, namespace: ` + crdNamespace + `}
laiki-spec:
  fqdn: bad.example.com
  proxy: {title: Bad, port: "8080"}
`,
		"platform/apps.yaml": `laiki-metadata: {resource-type: ShinyProxyApp, target-name: good, target-namespace: ` + crdNamespace + `}
laiki-spec: {id: fine, container-image: "nginx:1"}
---
laiki-metadata: {resource-type: ShinyProxyApp, target-name: good, target-namespace: ` + crdNamespace + `}
laiki-spec: {id: breaks, container-image: "nginx:1", containerMemory: 512}
`,
	}
	gittest.Write(t, dir, files)
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(ctx, pipeline.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	d := workflow.RenderAndJudge(res)
	var appError, targetError bool
	for _, f := range res.Findings {
		appError = appError || f.Severity == finding.Error && f.Resource == "ShinyProxyApp "+crdNamespace+"/good/breaks"
		targetError = targetError || f.Severity == finding.Error && f.Resource == "ShinyProxy "+crdNamespace+"/bad" && f.Field == "laiki-spec.proxy.port"
	}
	if !appError || !targetError {
		t.Fatalf("want an error at the app breaks and one at target bad's proxy.port: %v", res.Findings)
	}
	for _, tg := range d.Targets {
		raw, err := json.Marshal(tg.Objects[0])
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		err = admin.Create(ctx, obj, client.DryRunAll)
		switch tg.Name {
		case "good":
			if err != nil {
				t.Errorf("the API server refuses target good's resource, rendered without the app that breaks it: %v", err)
			}
			if got := apps(obj); len(got) != 1 || got["fine"] == nil {
				t.Errorf("target good renders %v, want the app fine alone", got)
			}
		case "bad":
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.proxy.port") {
				t.Errorf("the API server takes target bad's resource (%v), which Laiki says it refuses", err)
			}
		}
	}
}
