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

// An app as the bench platform writes them (bench/gen.go): numbers, a map,
// a dozen keys.
const benchApp = `laiki-metadata:
  resource-type: ShinyProxyApp
  target-name: apps
  target-namespace: sp-00
laiki-spec:
  id: app-00000
  display-name: App 0
  description: A generated app for the benchmarks, one of many in a large platform.
  container-image: registry.example.com/team-0/app-00000:1.0
  container-env:
    APP_MODE: production
    LOG_LEVEL: info
  port: 3838
  max-instances: 4
  container-memory-limit: 2Gi
  container-cpu-request: 1
  container-privileged: false
`

func BenchmarkParseApp(b *testing.B) {
	src := SourceRef{Name: "team", Role: "team"}
	data := []byte(benchApp)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if res := Parse(src, "app.yaml", data, DefaultLimits); len(res.Documents) != 1 {
			b.Fatal(res.Findings)
		}
	}
}
