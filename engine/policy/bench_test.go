package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/policy"
)

// Hot paths of admission, per resource: the defaults pre-processor and the
// governance rules (the built-in baseline), on the example app.
func benchDocs(b *testing.B) (*policy.Policies, *document.Document, *document.Document) {
	b.Helper()
	p, err := policy.Compile(context.Background(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	read := func(rel string, role string) *document.Document {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", rel))
		if err != nil {
			b.Fatal(err)
		}
		parsed := document.Parse(document.SourceRef{Name: "s", Role: role}, rel, data, document.DefaultLimits)
		return parsed.Documents[0]
	}
	return p, read("apps/shinyproxy-demo.yaml", "team"), read("platform/app-defaults.yaml", "platform")
}

func BenchmarkPreProcess(b *testing.B) {
	p, app, defaults := benchDocs(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, fs, _ := p.PreProcess(ctx, app, []*document.Document{defaults}); len(fs) > 0 && fs[0].Severity == "error" {
			b.Fatal(fs)
		}
	}
}

func BenchmarkGovern(b *testing.B) {
	p, app, _ := benchDocs(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.Govern(ctx, app, app.Spec, nil)
	}
}

// Both, as the engine judges an app: the defaults pre-processor, then
// governance on its spec, in one evaluation.
func BenchmarkEvaluate(b *testing.B) {
	p, app, defaults := benchDocs(b)
	ctx := context.Background()
	pps := []*document.Document{defaults}
	b.ReportAllocs()
	for b.Loop() {
		e := p.Evaluate(ctx, app, pps, true)
		e.Govern(ctx, false)
	}
}

// Compiling the built-in policies (parse, generate the collector, compile,
// prepare every query): done once per policy revision.
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.Compile(ctx, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
