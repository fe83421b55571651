package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/gittest"
)

// cuttingProxy sits in front of a Git HTTP server; while cut is set it
// stops every pack download half-way, as a server that dies in the middle of
// a fetch does.
type cuttingProxy struct {
	*httptest.Server
	cut  atomic.Bool
	cuts atomic.Int64
}

type halfBody struct {
	io.ReadCloser
	left int
}

func (h *halfBody) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, errors.New("connection reset by the test")
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.ReadCloser.Read(p)
	h.left -= n
	return n, err
}

func newCuttingProxy(t *testing.T, target string) *cuttingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if p.cut.Load() && strings.HasSuffix(r.Request.URL.Path, "/git-upload-pack") {
			p.cuts.Add(1)
			r.Body = &halfBody{ReadCloser: r.Body, left: 200}
			r.ContentLength = -1
			r.Header.Del("Content-Length")
		}
		return nil
	}
	rp.ErrorLog = nil
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

// Faults on the real API server and Git, one after the other, each followed
// by a reconcile that converges; at no point is an accepted app removed:
// the Git server dies in the middle of a fetch; the local Git cache is
// corrupted; writes conflict (another writer on the status ConfigMap, and
// another field manager on the ShinyProxy resource).
func TestFaultsConverge(t *testing.T) {
	ctx := context.Background()
	const ns = "team-faults"
	root := t.TempDir()
	img := func(id string) string { return "registry.example.com/team/" + id + ":1" }
	_, work := gittest.Repo(t, root, "team", map[string]string{
		"apps/one.yaml": appFile(ns, "one", img("one")),
		"apps/two.yaml": appFile(ns, "two", img("two")),
	})
	srv := gittest.HTTP(t, root, "tok")
	proxy := newCuttingProxy(t, srv.URL)
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	file := filepath.Join(dir, "laiki.yaml")
	text := "sources:\n  - name: platform\n    path: platform\n    role: platform\n" +
		"  - name: team-a\n    git: {url: " + proxy.URL + "/team.git, ref: main, auth: {token-env: FAULTS_TOKEN}}\n    allow:\n      target-namespaces: [" + ns + "]\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAULTS_TOKEN", "tok")
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	var conflicts atomic.Int64
	var injectConflict atomic.Bool
	base, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme()})
	if err != nil {
		t.Fatal(err)
	}
	conflicting := interceptor.NewClient(base, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if _, ok := obj.(*corev1.ConfigMap); ok && injectConflict.CompareAndSwap(true, false) {
				conflicts.Add(1)
				return apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, obj.GetName(), errors.New("changed by someone else"))
			}
			return c.Update(ctx, obj, opts...)
		},
	})
	r := &reconcile.Reconciler{
		Config:          cfg,
		Options:         pipeline.Options{Load: source.Options{CacheDir: cache}},
		Applier:         &reconcile.Applier{Client: admin, Reader: admin, Instance: "faults"},
		Cluster:         admin,
		Status:          conflicting,
		StatusNamespace: "laiki-system",
	}
	namespace(t, "laiki-system")
	// never checks, after every step, that no accepted app was removed.
	accepted := map[string]bool{}
	never := func(t *testing.T, step string) {
		t.Helper()
		got := ids(t, ns, "apps")
		for id := range accepted {
			if !strings.Contains(","+got+",", ","+id+",") {
				t.Fatalf("%s: accepted app %s was removed (apps %q)", step, id, got)
			}
		}
	}
	reconcileOK := func(t *testing.T, step string, want string) {
		t.Helper()
		run, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if errs := run.Outcome.Errors(); len(errs) > 0 {
			t.Fatalf("%s: %v", step, errs)
		}
		if got := ids(t, ns, "apps"); got != want {
			var why []string
			for _, l := range run.Result.Sources {
				for _, f := range l.Findings {
					why = append(why, f.Message)
				}
			}
			t.Fatalf("%s: apps %q, want %q (sources: %v)", step, got, want, why)
		}
		for _, id := range strings.Split(want, ",") {
			accepted[id] = true
		}
	}
	reconcileOK(t, "start", "one,two")

	t.Run("Git server dies in the middle of a fetch", func(t *testing.T) {
		gittest.Commit(t, work, map[string]string{"apps/three.yaml": appFile(ns, "three", img("three"))}, "three")
		proxy.cut.Store(true)
		run, err := r.Reconcile(ctx)
		proxy.cut.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		if proxy.cuts.Load() == 0 || len(run.Kept) != 1 {
			t.Fatalf("the fetch was not cut (%d cuts, %d kept)", proxy.cuts.Load(), len(run.Kept))
		}
		never(t, "fetch cut")
		reconcileOK(t, "after the cut", "one,three,two")
	})

	t.Run("the Git cache is corrupted", func(t *testing.T) {
		entries, err := os.ReadDir(cache)
		if err != nil || len(entries) != 1 {
			t.Fatalf("cache: %v %v", entries, err)
		}
		repo := filepath.Join(cache, entries[0].Name())
		// Every object file and pack truncated to garbage.
		var broken int
		_ = filepath.Walk(filepath.Join(repo, "objects"), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				broken++
				return os.WriteFile(p, []byte("not an object"), 0o644)
			}
			return nil
		})
		if broken == 0 {
			t.Fatal("nothing to corrupt")
		}
		gittest.Commit(t, work, map[string]string{"apps/four.yaml": appFile(ns, "four", img("four"))}, "four")
		never(t, "cache corrupted")
		reconcileOK(t, "after the corruption", "four,one,three,two")
		// And with the commit already fetched when the cache breaks.
		_ = filepath.Walk(filepath.Join(repo, "objects"), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				return os.WriteFile(p, []byte("not an object"), 0o644)
			}
			return nil
		})
		reconcileOK(t, "a corrupted cache, nothing new", "four,one,three,two")
	})

	t.Run("writes conflict", func(t *testing.T) {
		// Another writer changes the status ConfigMap in between: the
		// conflict is logged, the next run writes it.
		injectConflict.Store(true)
		gittest.Commit(t, work, map[string]string{"apps/five.yaml": appFile(ns, "five", img("five"))}, "five")
		reconcileOK(t, "a conflict on the status", "five,four,one,three,two")
		if conflicts.Load() != 1 {
			t.Fatalf("no conflict was injected")
		}
		reconcileOK(t, "after the conflict", "five,four,one,three,two")
		// Someone edits the ShinyProxy resource with kubectl: Laiki's
		// fields are set back, the other manager's stay.
		sp, err := shinyProxy(t, ns, "apps")
		if err != nil {
			t.Fatal(err)
		}
		edited := &unstructured.Unstructured{}
		edited.SetGroupVersionKind(sp.GroupVersionKind())
		edited.SetNamespace(sp.GetNamespace())
		edited.SetName(sp.GetName())
		_ = unstructured.SetNestedField(edited.Object, "Edited by hand", "spec", "proxy", "title")
		_ = unstructured.SetNestedField(edited.Object, "kept", "spec", "proxy", "landing-page")
		if err := admin.Patch(ctx, edited, client.Merge, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
		reconcileOK(t, "after a hand edit", "five,four,one,three,two")
		sp, _ = shinyProxy(t, ns, "apps")
		title, _, _ := unstructured.NestedString(sp.Object, "spec", "proxy", "title")
		if title != "Apps" {
			t.Errorf("title %q: Laiki's value must be set back", title)
		}
	})
	never(t, "end")
	t.Logf("faults survived: fetch cut %d times, cache corrupted twice, %d conflict(s); apps %s", proxy.cuts.Load(), conflicts.Load(), ids(t, ns, "apps"))
}

// The API server stops in the middle of a reconcile and comes back: the
// run fails, nothing is lost, and the next run converges.
func TestAPIServerRestart(t *testing.T) {
	ctx := context.Background()
	const ns = "team-restart"
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"one.yaml": appFile(ns, "one", "registry.example.com/team/one:1")})
	cfg := laikiConfig(t, ns, "")
	cfg.Sources = append(cfg.Sources, &source.Source{Name: "team-a", Role: source.RoleTeam, Path: filepath.Join(dir, "team"),
		Allow: &source.Allow{TargetNamespaces: []string{ns}}})
	// The API server is stopped by the first apply of a run, so that the
	// run is under way when it goes.
	var stopNow atomic.Bool
	base, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme()})
	if err != nil {
		t.Fatal(err)
	}
	stopping := interceptor.NewClient(base, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if stopNow.CompareAndSwap(true, false) {
				if err := env.ControlPlane.APIServer.Stop(); err != nil {
					t.Errorf("stopping the API server: %v", err)
				}
			}
			return c.Apply(ctx, obj, opts...)
		},
	})
	newReconciler := func(c client.Client) *reconcile.Reconciler {
		return &reconcile.Reconciler{Config: cfg, Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
			Applier: &reconcile.Applier{Client: c, Reader: c, Instance: "restart"}, Cluster: c, Status: c, StatusNamespace: "laiki-system"}
	}
	r := newReconciler(stopping)
	if _, err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, ns, "apps"); got != "one" {
		t.Fatalf("apps %q", got)
	}
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"two.yaml": appFile(ns, "two", "registry.example.com/team/two:1")})

	stopNow.Store(true)
	run, runErr := r.Reconcile(ctx)
	if runErr == nil && (run == nil || run.Outcome == nil || len(run.Outcome.Errors()) == 0) {
		t.Fatal("the run did not meet the stopped API server")
	}
	if err := env.ControlPlane.APIServer.Start(); err != nil {
		t.Fatalf("the API server did not start again: %v", err)
	}
	eventually(t, 60*time.Second, func() bool { return admin.List(ctx, &corev1.NamespaceList{}) == nil }, func() string { return "the API server is not back" })
	if got := ids(t, ns, "apps"); got != "one" && got != "one,two" {
		t.Fatalf("apps %q after the failed run: an app was lost", got)
	}
	if runErr != nil {
		t.Logf("the run during the restart: %v", runErr)
	} else {
		t.Logf("the run during the restart: %d objects failed, e.g. %v", len(run.Outcome.Errors()), run.Outcome.Errors()[0])
	}
	// The next run converges, by the same reconciler and by a new one.
	for _, rr := range []*reconcile.Reconciler{r, newReconciler(admin)} {
		var err error
		eventually(t, 30*time.Second, func() bool {
			_, err = rr.Reconcile(ctx)
			return err == nil && ids(t, ns, "apps") == "one,two"
		}, func() string { return fmt.Sprintf("apps %q, %v", ids(t, ns, "apps"), err) })
	}
}

// The ECR endpoint throttles every request for a minute: the apps keep
// running, the repository is made once it is over, and nothing is left
// half done.
func TestEcrThrottledForAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of throttling")
	}
	srv := startECR(t)
	const ns = "team-throttled"
	file, teamDir := ecrPlatform(t, ns, "throttled")
	gittest.Write(t, teamDir, map[string]string{"app.yaml": appFile(ns, "app", "registry.example.com/team/app:1")})
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	srv.ThrottleFor(time.Minute)
	start := time.Now()
	startOperator(t, cfg, "throttled", time.Second, func(_ *ctrl.Options, op *reconcile.Operator) {
		op.Reconciler = &reconcile.Reconciler{ExternalOptions: reconcile.ExternalOptions{MaxBackoff: 5 * time.Second}}
	})
	// The app is deployed while ECR refuses everything.
	eventually(t, 30*time.Second, func() bool { return ids(t, ns, "apps") == "app" }, func() string { return ids(t, ns, "apps") })
	if srv.Repo(ecrRegion, "team-a/throttled") != nil {
		t.Fatal("a repository was made while throttled")
	}
	eventually(t, 3*time.Minute, func() bool {
		r := srv.Repo(ecrRegion, "team-a/throttled")
		return r != nil && r.TagMutability == "IMMUTABLE"
	}, func() string { return "no repository after the throttling" })
	if ids(t, ns, "apps") != "app" {
		t.Error("the app was removed on the way")
	}
	t.Logf("repository made %s after a minute of throttling began", time.Since(start).Round(time.Second))
}
