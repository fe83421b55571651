package document

import (
	"os"
	"path/filepath"
	"testing"
)

// Parsing one app file (the example), the first step for every file.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "apps", "shinyproxy-demo.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	src := SourceRef{Name: "team", Role: "team"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if res := Parse(src, "app.yaml", data, DefaultLimits); len(res.Documents) != 1 {
			b.Fatal(res.Findings)
		}
	}
}
