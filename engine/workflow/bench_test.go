package workflow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Rendering (the merge of every accepted app into its target's
// configuration, the PrePuller's images) for a platform of 1,000 apps.
func BenchmarkRender1000Apps(b *testing.B) {
	dir := b.TempDir()
	platform, err := os.ReadFile(filepath.Join("..", "..", "examples", "platform", "shinyproxy.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	puller, err := os.ReadFile(filepath.Join("..", "..", "examples", "platform", "pre-puller.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("platform/shinyproxy.yaml", platform)
	write("platform/pre-puller.yaml", puller)
	for i := range 1000 {
		write(fmt.Sprintf("apps/app-%04d.yaml", i), fmt.Appendf(nil,
			"laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: shinyproxy\n  target-namespace: shinyproxy\nlaiki-spec:\n  id: app-%04d\n  container-image: registry.example.com/team/app-%04d:1\n  container-memory-limit: 1Gi\n", i, i))
	}
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: source.PathsConfig([]string{filepath.Join(dir, "platform"), filepath.Join(dir, "apps")})})
	if err != nil {
		b.Fatal(err)
	}
	if s := res.Summary(); s.Accepted != 1000 {
		b.Fatalf("accepted %d", s.Accepted)
	}
	b.ReportAllocs()
	for b.Loop() {
		workflow.Render(res)
	}
}
