package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
)

// seen is what the engine reads of a document: every exported field.
type seen struct {
	Source                                 document.SourceRef
	File                                   string
	Index, Line, Column                    int
	Digest                                 string
	Kind                                   document.Kind
	Type, Name, Namespace, TargetName, TNs string
	Metadata                               map[string]any
	Spec                                   any
	Broken                                 bool
	PosSpec, PosMeta                       string
	Input                                  map[string]any
	Findings                               any
	Err                                    string
}

func read(f func(map[string]any, document.SourceRef) (*document.Document, []finding.Finding, error), obj map[string]any) seen {
	src := document.SourceRef{Name: "team-a", Role: "team"}
	d, fs, err := f(obj, src)
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, fmt.Sprintf("%s %s %s %s", f.Severity, f.Location, f.Policy, f.Message))
	}
	s := seen{Findings: msgs}
	if err != nil {
		s.Err = err.Error()
	}
	if d != nil {
		s.Source, s.File, s.Index, s.Line, s.Column, s.Digest = d.Source, d.File, d.Index, d.Line, d.Column, d.Digest
		s.Kind, s.Type, s.Name, s.Namespace, s.TargetName, s.TNs = d.Kind, d.Type, d.Name, d.Namespace, d.TargetName, d.TargetNamespace
		s.Metadata, s.Spec, s.Broken = d.Metadata, d.Spec, d.Broken
		s.PosSpec, s.PosMeta = d.PosOf(document.KeySpec, "id").String(), d.PosOf(document.KeyMetadata).String()
		s.Input = d.Input(d.Spec)
	}
	return s
}

// The fast reading of an object gives the engine the document
// cluster.ObjectDocument gives, for every kind and for values that YAML
// would read otherwise than they are written (numbers, strings that look
// like numbers, booleans or nulls, keys that look like merge keys, line
// breaks, control characters), and objects deep or large enough to take
// the slow path.
func TestObjectDocument(t *testing.T) {
	kinds := append(cluster.Kinds(), "NotLaiki")

	tricky := []any{nil, true, false, 0.0, math.Copysign(0, -1), 1.0, -3.0, 1.5, 0.1, 1e-5, 0.0001, 999999.0, 1e6, 1234567.0, 1 << 53, 1e21, 1e300, -1e6,
		"", " ", "true", "True", "yes", "no", "on", "off", "y", "n", "null", "Null", "~", "0", "-0", "0x1F", "0o17", "017", "1_000", "1e3", ".5", "+1", ".inf", "-.Inf", ".nan",
		"1:20", "190:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "!tag", "&a", "*a", "- a", "a: b", "#c", "a #c", "[x]", "{x}", "'q'", "\"q\"", "|", ">",
		"a\rb", "\r", "  lead", "trail  ", "tab\there", "\t", "\x00", "\x07", "\x1b[0m", "\u0085", "\u2028", "\u2029", "\ufeff",
		"é", "日本", "😀", "a\u00a0b", "\\", "%", "@", "`", "?", "? x", ": x", "-", "---", "...", strings.Repeat("long ", 200),
		[]any{}, map[string]any{}, []any{1.0, "x", nil, []any{true}}, map[string]any{"<<": map[string]any{"a": 1.0}, "b": "c"},
		map[string]any{"true": 1.0, "1": "one", "": "empty", "null": nil, "a b": 2.0, "-": "dash", "~": "tilde", "\x00": "nul", "\r": "cr"}}
	// What the fast path leaves to cluster.ObjectDocument.
	slow := []any{"a\nb", "a\r\nb", "a\n", "\n", "\na", "a\n\n", "a \n b", map[string]any{"\n": 1.0}, map[string]any{"<<": map[string]any{"a": 1.0}, "b": "c"},
		map[string]any{"<<": 1.0}, []any{map[string]any{"x": "\ny"}}}
	rng := rand.New(rand.NewSource(1))
	random := randomValues(rng, randomShape{n: 10, leafBelow: 5, listBelow: 7, maxDepth: 4},
		func() any { return tricky[rng.Intn(len(tricky))] },
		func() string { k, _ := tricky[rng.Intn(len(tricky))].(string); return k })
	deep := any("bottom")
	for i := 0; i < 70; i++ {
		deep = map[string]any{"d": deep}
	}
	wide := make([]any, maxFastNodes+1)
	for i := range wide {
		wide[i] = float64(i)
	}

	objects := []map[string]any{appObject(0), appObject(1)}
	for _, kind := range kinds {
		spec := map[string]any{"targetName": "apps", "preProcessorName": "ShinyProxyAppDefaultsPreProcessor", "id": "x", "parameters": map[string]any{"fallback": map[string]any{"port": 1.0}}}
		for i, v := range tricky {
			spec[fmt.Sprintf("k%03d", i)] = v
		}
		for i := 0; i < 20; i++ {
			spec[fmt.Sprintf("r%02d", i)] = random(0)
		}
		obj := map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": kind, "metadata": map[string]any{"name": "x", "namespace": "sp-0"}, "spec": spec}
		objects = append(objects, obj,
			edit(obj, func(_, _, spec map[string]any) { spec["parameters"] = nil }),
			edit(obj, func(_, _, spec map[string]any) { delete(spec, "parameters") }),
			edit(obj, func(_, _, spec map[string]any) { spec["parameters"] = random(0) }),
			edit(obj, func(_, _, spec map[string]any) { delete(spec, "targetName") }),
			edit(obj, func(_, _, spec map[string]any) { spec["targetName"] = 3.0 }),
			edit(obj, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationName, "Some Name") }),
			edit(obj, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationNamespace, "Some NS") }),
			edit(obj, func(_, meta, _ map[string]any) { delete(meta, "namespace") }),
			edit(obj, func(o, _, _ map[string]any) { o["spec"] = "not a map" }),
			edit(obj, func(o, _, _ map[string]any) { delete(o, "spec") }),
		)
		for _, v := range slow {
			objects = append(objects, edit(obj, func(_, _, spec map[string]any) { spec["slow"] = v }),
				edit(obj, func(_, _, spec map[string]any) { spec["parameters"] = map[string]any{"slow": v} }))
		}
		objects = append(objects, edit(obj, func(_, _, spec map[string]any) { spec["<<"] = map[string]any{"id": "y", "z": 1.0} }),
			edit(obj, func(_, _, spec map[string]any) { spec["a\nb"] = 1.0 }))
		deepObj := edit(obj, func(_, _, spec map[string]any) {})
		deepObj["spec"].(map[string]any)["deep"] = deep
		wideObj := edit(obj, func(_, _, spec map[string]any) {})
		wideObj["spec"].(map[string]any)["wide"] = wide
		objects = append(objects, deepObj, wideObj)
	}
	for i := 0; i < 300; i++ {
		spec := map[string]any{"targetName": "apps", "id": fmt.Sprintf("app-%d", i)}
		for j := rng.Intn(12); j > 0; j-- {
			k, _ := tricky[rng.Intn(len(tricky))].(string)
			spec[k] = random(0)
		}
		if i%10 == 0 {
			spec["slow"] = slow[rng.Intn(len(slow))]
		}
		objects = append(objects, map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp", "metadata": map[string]any{"name": "x", "namespace": "sp-0"}, "spec": spec})
	}
	slowPaths := 0
	slowDocument = func(obj map[string]any, src document.SourceRef) (*document.Document, []finding.Finding, error) {
		slowPaths++
		return cluster.ObjectDocument(obj, src)
	}
	defer func() { slowDocument = cluster.ObjectDocument }()
	for i, obj := range objects {
		// As the webhook gets it: JSON's values.
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var o1, o2 map[string]any
		_ = json.Unmarshal(raw, &o1)
		_ = json.Unmarshal(raw, &o2)
		want, got := read(cluster.ObjectDocument, o1), read(objectDocument, o2)
		if !reflect.DeepEqual(got, want) {
			g, w := reflect.ValueOf(got), reflect.ValueOf(want)
			for f := 0; f < g.NumField(); f++ {
				if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
					t.Errorf("object %d (%.200s), %s:\n got %.300v\nwant %.300v", i, raw, g.Type().Field(f).Name, g.Field(f).Interface(), w.Field(f).Interface())
				}
			}
		}
		if !reflect.DeepEqual(o1, o2) {
			t.Errorf("object %d: changed differently", i)
		}
	}
	// Hundreds take the fast path (else the comparison would say little).
	if fast := len(objects) - slowPaths; fast < 200 {
		t.Errorf("%d of %d objects took the fast path", fast, len(objects))
	}
	t.Logf("%d of %d objects took the slow path", slowPaths, len(objects))
}

func BenchmarkObjectDocument(b *testing.B) {
	raw, _ := json.Marshal(appObject(0))
	src := document.SourceRef{Name: "team-a", Role: "team"}
	for _, f := range []struct {
		name string
		f    func(map[string]any, document.SourceRef) (*document.Document, []finding.Finding, error)
	}{{"yaml", cluster.ObjectDocument}, {"direct", objectDocument}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var obj map[string]any
				_ = json.Unmarshal(raw, &obj)
				if _, _, err := f.f(obj, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
