package operator

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
)

// Another writer changes a Laiki object's status while a run decides on
// it (after the run read the object, before the run writes the status): the
// API server sees Laiki's status patch conflict, Laiki reads the object
// again and writes its conditions, and the other writer's condition stays.
func TestStatusPatchKeepsAnotherWritersStatus(t *testing.T) {
	ctx := context.Background()
	const ns = "team-statuspatch"
	namespace(t, "laiki-system")
	app := clusterApp(ns, "patched", "patched", "registry.example.com/team/patched:1")
	namespace(t, app.GetNamespace())
	if err := admin.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(ctx, app) })

	base, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme()})
	if err != nil {
		t.Fatal(err)
	}
	var raced atomic.Bool
	race := func(ctx context.Context, sub string, obj client.Object) {
		if sub != "status" || obj.GetName() != app.GetName() || !raced.CompareAndSwap(false, true) {
			return
		}
		live := &v1alpha1.ShinyProxyApp{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
			t.Error(err)
			return
		}
		meta.SetStatusCondition(&live.Status.Conditions, metav1.Condition{Type: "Audited", Status: metav1.ConditionTrue, Reason: "SetElsewhere", Message: "not Laiki's"})
		if err := admin.Status().Update(ctx, live); err != nil {
			t.Error(err)
		}
	}
	racing := interceptor.NewClient(base, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			race(ctx, sub, obj)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			race(ctx, sub, obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
	r := &reconcile.Reconciler{
		Config:          laikiConfig(t, ns, ""),
		Options:         pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
		Applier:         &reconcile.Applier{Client: admin, Reader: admin, Instance: "statuspatch"},
		Cluster:         admin,
		Status:          racing,
		StatusNamespace: "laiki-system",
	}
	if _, err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !raced.Load() {
		t.Fatal("the run wrote no status on the app: nothing raced it")
	}
	got := &v1alpha1.ShinyProxyApp{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(app), got); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ReadyCondition); c == nil || c.ObservedGeneration != got.Generation {
		t.Errorf("Laiki's status was lost to the other writer's: Ready %+v (conditions %+v)", c, got.Status.Conditions)
	}
	if meta.FindStatusCondition(got.Status.Conditions, "Audited") == nil {
		t.Errorf("the other writer's condition is gone: %+v", got.Status.Conditions)
	}
}
