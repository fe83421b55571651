package operator

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/gittest"
)

// reads records what a run asks of the API server about the objects
// Laiki renders: whole reads, metadata-only reads and server-side dry runs.
type reads struct {
	mu                   sync.Mutex
	whole, meta, dryRuns []string
}

func (r *reads) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		path := req.URL.Path
		if strings.Contains(path, "/shinyproxies/") || strings.Contains(path, "/daemonsets/") {
			r.mu.Lock()
			switch {
			case req.Method == http.MethodGet && strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadata"):
				r.meta = append(r.meta, path)
			case req.Method == http.MethodGet:
				r.whole = append(r.whole, path)
			case req.URL.Query().Get("dryRun") != "":
				r.dryRuns = append(r.dryRuns, path)
			}
			r.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (r *reads) reset() (whole, meta, dryRuns []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	whole, meta, dryRuns = r.whole, r.meta, r.dryRuns
	r.whole, r.meta, r.dryRuns = nil, nil, nil
	return whole, meta, dryRuns
}

// The reconcile loop reads an object whole only when something may have
// changed it: after it created or updated an object, the next run finds
// it by its resourceVersion alone (a metadata-only read) when nobody wrote
// it since. Anyone's write moves the version, so a drift still takes the
// full path and is put right: the fast path never hides one.
func TestUnchangedObjectsAreNotReadWhole(t *testing.T) {
	ctx := context.Background()
	ns := "unmoved"
	sp := kube.Name(ns)
	namespace(t, sp)
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), map[string]string{
		"shinyproxy.yaml": platformFiles(ns)["shinyproxy.yaml"],
		"pre-puller.yaml": platformFiles(ns)["pre-puller.yaml"],
	})
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:1")})
	cfg, err := source.LoadConfig(teams(t, dir, ns, "team"))
	if err != nil {
		t.Fatal(err)
	}
	rc := rest.CopyConfig(restCfg)
	seen := &reads{}
	rc.WrapTransport = seen.wrap
	c, err := client.New(rc, client.Options{Scheme: scheme()})
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{Config: cfg, Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
		Applier: &reconcile.Applier{Client: c, Reader: c, Instance: "unmoved"}, Cluster: c}
	reconcileOnce := func(what string) *reconcile.Run {
		t.Helper()
		run, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if errs := run.Outcome.Errors(); len(errs) > 0 {
			t.Fatalf("%s: %v", what, errs)
		}
		return run
	}

	if run := reconcileOnce("cold start"); run.Outcome.Writes() != 2 {
		t.Fatalf("cold start: %d writes, want the ShinyProxy resource and the DaemonSet created", run.Outcome.Writes())
	}
	seen.reset()
	if run := reconcileOnce("the run after"); run.Outcome.Writes() != 0 {
		t.Fatalf("nothing changed, yet %d writes", run.Outcome.Writes())
	}
	whole, meta, dryRuns := seen.reset()
	if len(whole)+len(dryRuns) > 0 || len(meta) != 2 {
		t.Errorf("after creating them, the next run read %q whole and dry-ran %q (metadata-only reads: %q): objects nobody wrote since are checked by their version alone",
			whole, dryRuns, meta)
	}

	// Another manager changes a field Laiki owns: the next run reads the
	// object whole and puts it back.
	u, err := shinyProxy(t, sp, "apps")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"proxy":{"title":"Changed by hand"}}}`)), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	if run := reconcileOnce("after a drift"); run.Outcome.Writes() != 1 {
		t.Errorf("a drift: %d writes, want the ShinyProxy resource put back", run.Outcome.Writes())
	}
	if whole, _, _ := seen.reset(); len(whole) == 0 {
		t.Error("a drifted object was not read whole")
	}
	if u, err = shinyProxy(t, sp, "apps"); err != nil {
		t.Fatal(err)
	}
	if title, _, _ := unstructured.NestedString(u.Object, "spec", "proxy", "title"); title != "Apps" {
		t.Errorf("the drift stays: title %q", title)
	}

	// An app changes: its ShinyProxy resource is written straight away,
	// without a dry run first (the render differs from what was last found
	// in force, so there is something to write), and a setting the team
	// removes then leaves the cluster, as server-side apply removes what
	// its manager no longer sets.
	for _, step := range []struct{ what, extra string }{
		{"a setting added", "  display-name: First\n"},
		{"the setting removed", ""},
	} {
		gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:1") + step.extra})
		seen.reset()
		if run := reconcileOnce(step.what); run.Outcome.Writes() != 1 {
			t.Errorf("%s: %d writes, want the ShinyProxy resource", step.what, run.Outcome.Writes())
		}
		if _, _, dryRuns := seen.reset(); len(dryRuns) > 0 {
			t.Errorf("%s: dry-ran %q before writing what the render changed", step.what, dryRuns)
		}
		if u, err = shinyProxy(t, sp, "apps"); err != nil {
			t.Fatal(err)
		}
		name, found := apps(u)["a"]["display-name"]
		if want := step.extra != ""; found != want || (want && name != "First") {
			t.Errorf("%s: display-name %v (set %v) in the ShinyProxy resource", step.what, name, found)
		}
	}
}
