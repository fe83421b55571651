package document

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

var src = SourceRef{Name: "s", Role: "team"}

func parse(t *testing.T, text string) Result {
	t.Helper()
	return Parse(src, "f.yaml", []byte(text), DefaultLimits)
}

func all(r Result) []finding.Finding {
	out := append([]finding.Finding(nil), r.Findings...)
	for _, d := range r.Documents {
		out = append(out, r.ByDocument[d]...)
	}
	return out
}

func wantFinding(t *testing.T, fs []finding.Finding, sev finding.Severity, line int, substr string) {
	t.Helper()
	for _, f := range fs {
		if f.Severity == sev && (line < 0 || f.Line == line) && strings.Contains(f.Message, substr) {
			return
		}
	}
	t.Fatalf("no %s finding at line %d containing %q in %+v", sev, line, substr, fs)
}

func TestKinds(t *testing.T) {
	r := parse(t, `laiki-metadata:
  target-type: ShinyProxy
  name: sp
  namespace: ns
laiki-spec:
  proxy: {title: x}
---
laiki-metadata:
  resource-type: ShinyProxyApp
  target-name: sp
  target-namespace: ns
laiki-spec:
  id: app
---
laiki-metadata:
  pre-processor-name: Defaults
  name: d
  target-namespace: ns
  target-name: sp
laiki-spec:
---
`)
	if fs := all(r); len(fs) != 0 {
		t.Fatalf("unexpected findings: %+v", fs)
	}
	if len(r.Documents) != 3 {
		t.Fatalf("want 3 documents, got %d", len(r.Documents))
	}
	tg, res, pp := r.Documents[0], r.Documents[1], r.Documents[2]
	if tg.Kind != Target || tg.Type != "ShinyProxy" || tg.Name != "sp" || tg.Namespace != "ns" || tg.Line != 1 {
		t.Errorf("target: %+v", tg)
	}
	if res.Kind != Resource || res.TargetName != "sp" || res.TargetNamespace != "ns" || res.Line != 8 || res.Index != 1 {
		t.Errorf("resource: %+v", res)
	}
	if pp.Kind != PreProcessor || pp.Name != "d" || pp.Namespace != "ns" || pp.TargetName != "sp" || pp.Spec != nil {
		t.Errorf("pre-processor: %+v", pp)
	}
	if got := res.PosOf("laiki-spec", "id"); got.Line != 13 || got.Column != 3 {
		t.Errorf("PosOf id = %v", got)
	}
	if got := res.PosOf("laiki-spec.missing.deeper"); got.Line != 12 {
		t.Errorf("PosOf of a field not in the file should fall back to laiki-spec, got %v", got)
	}
}

func TestMetadataErrors(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"unknown key", "laiki-metadata:\n  target-type: A\n  name: n\n  namespace: x\n  colour: red\nlaiki-spec: {}\n", 5, "unknown key laiki-metadata.colour"},
		{"missing key", "laiki-metadata:\n  resource-type: A\n  target-name: n\nlaiki-spec: {}\n", 2, "needs laiki-metadata.target-namespace"},
		{"no kind", "laiki-metadata:\n  name: n\nlaiki-spec: {}\n", 2, "needs one of target-type"},
		{"two kinds", "laiki-metadata:\n  target-type: A\n  resource-type: B\n  name: n\n  namespace: x\nlaiki-spec: {}\n", 2, "a document is one of"},
		{"empty value", "laiki-metadata:\n  target-type: A\n  name: ''\n  namespace: x\nlaiki-spec: {}\n", 3, "must be a non-empty string"},
		{"missing spec", "laiki-metadata:\n  target-type: A\n  name: n\n  namespace: x\n", 1, "missing laiki-spec"},
		{"extra top key", "laiki-metadata:\n  target-type: A\n  name: n\n  namespace: x\nlaiki-spec:\nid: x\n", 6, "unknown top-level key \"id\""},
		{"duplicate spec key", "laiki-metadata:\n  target-type: A\n  name: n\n  namespace: x\nlaiki-spec:\n  a: 1\n  a: 2\n", 7, "already defined at line 6"},
		{"metadata not a map", "laiki-metadata: [1]\nlaiki-spec: {}\n", 1, "must be a map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parse(t, c.text)
			if len(r.Documents) != 1 || !r.Documents[0].Broken {
				t.Fatalf("want one broken document, got %+v", r.Documents)
			}
			wantFinding(t, all(r), finding.Error, c.line, c.msg)
		})
	}
}

func TestNotLaikiAndBadYAML(t *testing.T) {
	r := parse(t, "apiVersion: v1\nkind: ConfigMap\n")
	if len(r.Documents) != 0 {
		t.Fatal("a non-Laiki document must not be read as one")
	}
	wantFinding(t, r.Findings, finding.Notice, 1, "not a Laiki document")

	r = parse(t, "laiki-metadata:\n  target-type: A\n  name: n\n  namespace: x\nlaiki-spec: {}\n---\nlaiki-spec: [\n")
	if len(r.Documents) != 1 {
		t.Fatalf("the document before a syntax error is kept, got %d", len(r.Documents))
	}
	wantFinding(t, r.Findings, finding.Error, 8, "invalid YAML") // where the unclosed [ is

	r = parse(t, "a: b\n  c: d\n")
	wantFinding(t, r.Findings, finding.Error, 2, "invalid YAML")
}

func TestValues(t *testing.T) {
	r := parse(t, `laiki-metadata: {resource-type: A, target-name: n, target-namespace: x}
laiki-spec:
  base: &b {cpu: 0.25, n: 3, on: true, s: "3", nil: ~, date: 2024-01-01}
  merged:
    <<: *b
    n: 4
`)
	if fs := all(r); len(fs) != 0 {
		t.Fatal(fs)
	}
	spec := r.Documents[0].Spec.(map[string]any)
	base := spec["base"].(map[string]any)
	if base["cpu"] != 0.25 || base["n"] != int64(3) || base["on"] != true || base["s"] != "3" || base["nil"] != nil || base["date"] != "2024-01-01" {
		t.Errorf("base = %#v", base)
	}
	merged := spec["merged"].(map[string]any)
	if merged["n"] != int64(4) || merged["cpu"] != 0.25 {
		t.Errorf("merge keys: %#v", merged)
	}
}

func TestLimits(t *testing.T) {
	// A billion-laughs file: each level doubles nine times.
	var b strings.Builder
	b.WriteString("laiki-metadata: {resource-type: A, target-name: n, target-namespace: x}\nlaiki-spec:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("  a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	// Refused without expanding it: reading it allocates a small, fixed
	// amount (expanded, it would be 9^10 values).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := parse(t, b.String())
	runtime.ReadMemStats(&after)
	wantFinding(t, all(r), finding.Error, -1, "alias expansion")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("reading a billion-laughs file allocated %d MiB", grew>>20)
	}

	deep := "laiki-metadata: {resource-type: A, target-name: n, target-namespace: x}\nlaiki-spec: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	r = parse(t, deep)
	found := false
	for _, f := range all(r) {
		found = found || strings.Contains(f.Message, "nesting deeper")
	}
	if !found {
		t.Fatalf("deep nesting not refused: %+v", all(r))
	}

	big := Parse(src, "big.yaml", make([]byte, DefaultLimits.MaxFileBytes+1), DefaultLimits)
	wantFinding(t, big.Findings, finding.Error, 0, "more than")
}

// Merge keys a hostile file could use to stop Laiki: a mapping that merges
// itself, and merges of merges that double at every level. Each is an
// error at its line, found in bounded time.
func TestMergeKeyBombs(t *testing.T) {
	bomb := "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: ns}\nlaiki-spec:\n  l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}\n"
	for i := 1; i <= 40; i++ {
		bomb += fmt.Sprintf("  l%d: &l%d {<<: [*l%d, *l%d, *l%d, *l%d], k%d: 1}\n", i, i, i-1, i-1, i-1, i-1, i)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"itself":             {"laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: ns}\nlaiki-spec:\n  base: &b {<<: *b, title: T}\n", "brings in a mapping that holds it"},
		"itself, in a list":  {"laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: ns}\nlaiki-spec:\n  base: &b {x: 1, in: {<<: [*b]}}\n", "nesting deeper than"},
		"merges that double": {bomb, "too many values"},
	} {
		t.Run(name, func(t *testing.T) {
			r := Parse(SourceRef{Name: "s", Role: "platform"}, "f.yaml", []byte(tc.text), DefaultLimits)
			if len(r.Documents) != 1 || !r.Documents[0].Broken {
				t.Fatalf("want one broken document: %+v", r)
			}
			fs := r.ByDocument[r.Documents[0]]
			if len(fs) == 0 || !strings.Contains(fs[0].Message, tc.want) || fs[0].Line < 3 {
				t.Errorf("want an error containing %q at its line, got %+v", tc.want, fs)
			}
		})
	}
}

// An empty file is an empty file: no documents and nothing to report, not
// an error about the end of the input.
func TestEmptyFile(t *testing.T) {
	for _, text := range []string{"", "\n", "   \n\t\n", "# nothing yet\n", "---\n", "---\n---\n", "\ufeff"} {
		r := parse(t, text)
		if len(r.Documents) != 0 || len(all(r)) != 0 {
			t.Errorf("%q: %d documents, findings %+v", text, len(r.Documents), all(r))
		}
	}
}
