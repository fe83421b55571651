package document

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever the bytes, Parse returns findings, never panics, and
// every finding has the file name.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*/*.yaml")
	design, _ := filepath.Glob("../../test/fixtures/design/*/*.yaml")
	seeds = append(seeds, design...)
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("laiki-metadata: &a {target-type: *a}\nlaiki-spec: *a\n"))
	f.Add([]byte("laiki-metadata:\n  <<: [*x]\nlaiki-spec:\n"))
	f.Add([]byte("---\n---\nlaiki-spec: !!binary AAAA\nlaiki-metadata: {resource-type: A, target-name: b, target-namespace: c}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Parse(SourceRef{Name: "fuzz", Role: "team"}, "fuzz.yaml", data, DefaultLimits)
		for _, fd := range r.Findings {
			if fd.File != "fuzz.yaml" {
				t.Fatalf("finding without the file: %+v", fd)
			}
		}
		for _, d := range r.Documents {
			_ = d.PosOf("laiki-spec", "a", "0", "b")
			_ = d.Input(d.Spec)
		}
	})
}
