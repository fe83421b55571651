// Package operator tests the reconcile loop (`laiki apply` and `laiki
// operator`) against a real kube-apiserver and etcd (envtest), with the
// ShinyProxy operator's real CRD installed, and Git repositories served by
// git daemon on loopback.
package operator

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/test/kubetest"
)

var (
	env        *envtest.Environment
	restCfg    *rest.Config
	admin      client.Client
	kubeconfig string // a kubeconfig file for the laiki binary
	laiki      string // the built binary
	repo       string
)

// The bundled example platform's namespace and ShinyProxy target (names
// Kubernetes takes as they are).
const (
	spNamespace = "shinyproxy"
	spName      = "shinyproxy"
)

func TestMain(m *testing.M) {
	repo = kubetest.Repo()
	kubetest.Main(m, "operator", run)
}

func run(m *testing.M) (int, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return 1, fmt.Errorf("git is needed (make test-deps installs it): %w", err)
	}
	tmp, err := os.MkdirTemp("", "laiki-operator")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	if laiki, err = kubetest.Laiki(tmp); err != nil {
		return 1, err
	}
	env = &envtest.Environment{
		CRDDirectoryPaths: []string{
			filepath.Join(repo, "charts", "laiki", "crds"),
			filepath.Join(repo, "engine", "workflow", "crds", "shinyproxy.crd.yaml"),
		},
		ErrorIfCRDPathMissing: true,
	}
	// A certificate directory of our own, kept across a restart of the API
	// server (TestAPIServerRestart): its serving certificate stays the one
	// the clients trust, as a real API server's does.
	certs := filepath.Join(tmp, "apiserver-certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return 1, err
	}
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certs}
	restCfg, err = kubetest.Start(env)
	if err != nil {
		return 1, err
	}
	defer env.Stop()
	admin, err = client.New(restCfg, client.Options{Scheme: scheme()})
	if err != nil {
		return 1, err
	}
	user, err := env.AddUser(envtest.User{Name: "ci", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return 1, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return 1, err
	}
	kubeconfig = filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// writes counts the requests that change something in the cluster (every
// method but GET, HEAD and a WATCH), leases aside: leader election renews
// its lease whatever the platform does.
type writes struct {
	n    atomic.Int64
	mu   sync.Mutex
	last []string // the latest writes, for messages
}

func (w *writes) recent() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.last...)
}

func (w *writes) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		// A server-side dry run (how Laiki asks what an apply would change)
		// writes nothing.
		dryRun := req.URL.Query().Get("dryRun") != ""
		if req.Method != http.MethodGet && req.Method != http.MethodHead && !strings.Contains(req.URL.Path, "/leases") && !dryRun {
			w.n.Add(1)
			w.mu.Lock()
			w.last = append(w.last, req.Method+" "+req.URL.Path)
			if len(w.last) > 10 {
				w.last = w.last[1:]
			}
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// counted is a rest config whose writes are counted.
func counted() (*rest.Config, *writes) {
	cfg := rest.CopyConfig(restCfg)
	w := &writes{}
	cfg.WrapTransport = w.wrap
	return cfg, w
}

// shinyProxy reads the ShinyProxy custom resource of a target.
func shinyProxy(t testing.TB, namespace, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "openanalytics.eu", Version: "v1", Kind: "ShinyProxy"})
	err := admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u)
	return u, err
}

// apps lists the apps of a ShinyProxy resource: id → spec.
func apps(u *unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	specs, _, _ := unstructured.NestedSlice(u.Object, "spec", "proxy", "specs")
	for _, s := range specs {
		if m, ok := s.(map[string]any); ok {
			id, _ := m["id"].(string)
			out[id] = m
		}
	}
	return out
}

// ids lists the app ids of a ShinyProxy resource, sorted ("" when missing).
func ids(t testing.TB, namespace, name string) string {
	t.Helper()
	u, err := shinyProxy(t, namespace, name)
	if err != nil {
		return ""
	}
	var out []string
	for id := range apps(u) {
		out = append(out, id)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func scheme() *runtime.Scheme { return cluster.Scheme() }

// eventually waits up to timeout for cond, and fails with what describe says.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, describe func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within %s: %s", timeout, describe())
	return 0
}

// copyDir copies a directory tree.
func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// namespace makes a Kubernetes namespace for a test's own target.
func namespace(t testing.TB, name string) {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := admin.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

func metaWithLabels(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
}
