package kube

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
)

func scheme() *runtime.Scheme { return cluster.Scheme() }

// waitServing waits until the webhook answers TLS on envtest's port.
func waitServing(ctx context.Context) error {
	wo := env.WebhookInstallOptions
	addr := net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the webhook did not serve on %s within 30s", addr)
}

// warnings collects the warnings the API server sends a client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// as returns a client that acts as a user of some groups (impersonation, as
// kubectl --as does), and the warnings it receives.
func as(t testing.TB, user string, groups ...string) (client.Client, *warnings) {
	t.Helper()
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	w := &warnings{}
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// object reads a Laiki file (its first document) as an object.
func object(t testing.TB, text string) *unstructured.Unstructured {
	t.Helper()
	parsed := document.Parse(document.SourceRef{Name: "test", Role: "team"}, "test.yaml", []byte(text), document.DefaultLimits)
	if len(parsed.Documents) != 1 || parsed.Documents[0].Broken {
		t.Fatalf("not one valid document: %+v", parsed)
	}
	obj, err := kube.ToObject(parsed.Documents[0])
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// exampleText reads a file of the design document's examples, whose names
// (the namespace ShinyProxy) these tests use.
func exampleText(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "test", "fixtures", "design", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// app is a team app file in the example platform's namespace.
func app(id string, extra string) string {
	return "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: ShinyProxy\n  target-namespace: ShinyProxy\nlaiki-spec:\n  id: " + id +
		"\n  container-image: registry.example.com/team/" + id + ":1\n" + extra
}
