package policy

import (
	"context"
	"reflect"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// FuzzPreProcess: whatever an app and a defaults document say, the
// pre-processor and governance return (a spec or findings) and never panic;
// a spec that came back is plain values again (no json.Number).
func FuzzPreProcess(f *testing.F) {
	seed(f)
	p, err := Compile(context.Background(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, spec, params string) {
		d, pps, ok := fuzzDocuments(spec, params)
		if !ok {
			return // not documents: the parser's fuzz test covers them
		}
		_ = p.CheckParameters(ctx, pps[0])
		out, _, _ := p.PreProcess(ctx, d, pps)
		plain(t, out)
		_ = p.Govern(ctx, d, out, nil)
	})
}

// seed gives the fuzz tests of an app and a defaults document their
// starting inputs.
func seed(f *testing.F) {
	f.Add("id: a\ncontainer-image: r/a:1\n", "fallback: {container-memory-limit: 1Gi}\n")
	f.Add("id: a\ncontainer-env: [1, 2]\n", "append: {container-env: {A: b}}\n")
	f.Add("id: a\ncontainer-env: {A: 1}\n", "append: {container-env: [x]}\noverride: {id: b}\n")
	f.Add("", "fallback: 3\n")
	f.Add("id: [a, {b: c}]\n", "override: {container-privileged: [true]}\nfallback: {x: {y: {z: 1.5e300}}}\n")
}

// fuzzDocuments makes an app of spec and a defaults pre-processor of
// params; ok is false when either is not one whole document.
func fuzzDocuments(spec, params string) (app *document.Document, pps []*document.Document, ok bool) {
	a := document.Parse(document.SourceRef{Name: "team", Role: "team"}, "app.yaml",
		[]byte("laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n"+indent(spec)), document.DefaultLimits)
	p := document.Parse(document.SourceRef{Name: "platform", Role: "platform"}, "pp.yaml",
		[]byte("laiki-metadata:\n  pre-processor-name: ShinyProxyAppDefaultsPreProcessor\n  name: d\n  target-namespace: ns\nlaiki-spec:\n"+indent(params)), document.DefaultLimits)
	if len(a.Documents) != 1 || len(p.Documents) != 1 || a.Documents[0].Broken || p.Documents[0].Broken {
		return nil, nil, false
	}
	return a.Documents[0], p.Documents, true
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

// FuzzEvaluate: whatever an app and a defaults document say, one
// evaluation gives what PreProcess then Govern give.
func FuzzEvaluate(f *testing.F) {
	seed(f)
	f.Add("id: a\ncontainer-privileged: true\nport: 1.0\ncontainer-image: ${X}\n", "fallback: {port: 0x10, max-instances: 1e3}\n")
	ctx := context.Background()
	p, err := Compile(ctx, []Module{{File: "gov.rego", Text: []byte(evaluateGovernance)}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, spec, params string) {
		d, pps, ok := fuzzDocuments(spec, params)
		if !ok {
			return
		}
		want, fs, changes := p.PreProcess(ctx, d, pps)
		if !finding.AnyBlocking(fs) {
			fs = append(fs, p.Govern(ctx, d, want, pps)...)
		}
		e := p.Evaluate(ctx, d, pps, true)
		got := e.Findings
		if !finding.AnyBlocking(got) {
			got = append(got, e.Govern(ctx, false)...)
		}
		if !reflect.DeepEqual(e.Spec, want) || !reflect.DeepEqual(e.Changes, changes) || !reflect.DeepEqual(got, fs) {
			t.Errorf("one evaluation (%v):\n%#v\n%v\n%v\ntwo:\n%#v\n%v\n%v", e.judged, e.Spec, e.Changes, got, want, changes, fs)
		}
	})
}
