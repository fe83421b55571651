package policy_test

import (
	"context"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/policy"
)

// FuzzPreProcess: whatever an app and a defaults document say, the
// pre-processor and governance return (a spec or findings) and never panic;
// a spec that came back is plain values again (no json.Number).
func FuzzPreProcess(f *testing.F) {
	f.Add("id: a\ncontainer-image: r/a:1\n", "fallback: {container-memory-limit: 1Gi}\n")
	f.Add("id: a\ncontainer-env: [1, 2]\n", "append: {container-env: {A: b}}\n")
	f.Add("id: a\ncontainer-env: {A: 1}\n", "append: {container-env: [x]}\noverride: {id: b}\n")
	f.Add("", "fallback: 3\n")
	f.Add("id: [a, {b: c}]\n", "override: {container-privileged: [true]}\nfallback: {x: {y: {z: 1.5e300}}}\n")
	p, err := policy.Compile(context.Background(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, spec, params string) {
		app := document.Parse(document.SourceRef{Name: "team", Role: "team"}, "app.yaml",
			[]byte("laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n"+indent(spec)), document.DefaultLimits)
		pp := document.Parse(document.SourceRef{Name: "platform", Role: "platform"}, "pp.yaml",
			[]byte("laiki-metadata:\n  pre-processor-name: ShinyProxyAppDefaultsPreProcessor\n  name: d\n  target-namespace: ns\nlaiki-spec:\n"+indent(params)), document.DefaultLimits)
		if len(app.Documents) != 1 || len(pp.Documents) != 1 || app.Documents[0].Broken || pp.Documents[0].Broken {
			return // not documents: the parser's fuzz test covers them
		}
		_ = p.CheckParameters(ctx, pp.Documents[0])
		out, _, _ := p.PreProcess(ctx, app.Documents[0], pp.Documents)
		plain(t, out)
		_ = p.Govern(ctx, app.Documents[0], out, nil)
	})
}

func indent(s string) string {
	out := "  "
	for _, c := range s {
		out += string(c)
		if c == '\n' {
			out += "  "
		}
	}
	return out + "\n"
}

// plain fails on a value that is not one of the engine's plain types.
func plain(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
	case map[string]any:
		for _, e := range x {
			plain(t, e)
		}
	case []any:
		for _, e := range x {
			plain(t, e)
		}
	default:
		t.Fatalf("a %T in a spec", v)
	}
}
