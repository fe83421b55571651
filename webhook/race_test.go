package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// Requests are answered while the state is rebuilt and a new policy set is
// put in force with another time limit: no request may share mutable policy
// state with the rebuild (run with -race, as make test does).
func TestConcurrentRequestsWhilePoliciesChange(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) { writeFile(t, dir, name, text) }
	write("laiki.yaml", "sources:\n  - name: platform\n    path: platform\n    role: platform\n"+
		"  - name: team-a\n    path: team-a\n    allow: {target-namespaces: [apps]}\n    subjects: {users: [alice]}\n")
	write("platform/sp.yaml", "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec: {proxy: {title: Apps}}\n")
	write("team-a/.keep", "")
	rule := func(i int) string {
		return fmt.Sprintf("package laiki.governance.r\n\ndeny contains \"no %d\" if input[\"laiki-spec\"][\"display-name\"] == \"x%d\"\n", i, i)
	}
	write("platform/r.rego", rule(0))
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Admission{Config: cfg, Options: pipeline.Options{PolicyTimeout: 3 * time.Second}}

	obj := map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp",
		"metadata": map[string]any{"name": "demo", "namespace": "apps"},
		"spec":     map[string]any{"targetName": "sp", "id": "demo", "container-image": "registry.example.com/t/demo:1"}}
	raw, _ := json.Marshal(obj)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw}, UserInfo: authenticationv1.UserInfo{Username: "alice"}}}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				select {
				case <-done:
					return
				default:
				}
				if resp := (Validator{a}).Handle(ctx, req); !resp.Allowed {
					t.Errorf("refused: %+v", resp.Result)
					return
				}
			}
		}()
	}
	// A new set every other time; in between, the state is rebuilt with the
	// set in force (an informer saw a change), which the Gate hands out again.
	for i := 1; i <= 10 && ctx.Err() == nil; i++ {
		if i%2 == 0 {
			write("platform/r.rego", rule(i))
		}
		if _, err := a.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}

// writeFile writes a file under dir, making its directories.
func writeFile(t testing.TB, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
