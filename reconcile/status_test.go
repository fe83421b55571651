package reconcile

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/cluster"
)

// foreign is a condition another controller (or a person with kubectl)
// sets on a Laiki object: Laiki's status write must leave it be.
func foreign(name string) metav1.Condition {
	return metav1.Condition{Type: name, Status: metav1.ConditionTrue, Reason: "SetElsewhere", Message: "not Laiki's", LastTransitionTime: metav1.Now()}
}

// addForeign writes a condition on the object's status, as another writer
// would, through c.
func addForeign(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey, name string) {
	t.Helper()
	live := &v1alpha1.ShinyProxyApp{}
	if err := c.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	meta.SetStatusCondition(&live.Status.Conditions, foreign(name))
	if err := c.Status().Update(ctx, live); err != nil {
		t.Fatal(err)
	}
}

// The status of a Laiki object is written by a patch computed from the
// object as it is when written, not by an update of the object the run read
// at its start: another writer's change in between is neither a conflict
// that loses Laiki's status nor overwritten by it.
func TestObjectStatusIsPatched(t *testing.T) {
	ctx := context.Background()
	app := &v1alpha1.ShinyProxyApp{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "team", Generation: 1}}
	key := client.ObjectKeyFromObject(app)
	applied := verdict{ready: true, reason: v1alpha1.AppliedReason, message: "accepted and applied"}

	check := func(t *testing.T, c client.Client, foreigners ...string) {
		t.Helper()
		got := &v1alpha1.ShinyProxyApp{}
		if err := c.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
		st := got.Status
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.AppliedReason {
			t.Errorf("Ready: %+v", c)
		}
		for _, typ := range []string{v1alpha1.ReconcilingCondition, v1alpha1.StalledCondition} {
			if c := meta.FindStatusCondition(st.Conditions, typ); c == nil || c.Status != metav1.ConditionFalse {
				t.Errorf("%s: %+v", typ, c)
			}
		}
		for _, f := range foreigners {
			if meta.FindStatusCondition(st.Conditions, f) == nil {
				t.Errorf("the condition %s another writer set is gone: %+v", f, st.Conditions)
			}
		}
		if st.ObservedGeneration != 1 || st.PolicyRevision != "rev-1" {
			t.Errorf("observedGeneration %d, policyRevision %q", st.ObservedGeneration, st.PolicyRevision)
		}
	}
	// readAtStart is the object as cluster.Documents reads it.
	readAtStart := func(t *testing.T, c client.Client) *unstructured.Unstructured {
		t.Helper()
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(cluster.GVK("ShinyProxyApp"))
		if err := c.Get(ctx, key, obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}

	t.Run("a write after the run read the object", func(t *testing.T) {
		store := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(app.DeepCopy()).WithStatusSubresource(app).Build()
		obj := readAtStart(t, store)
		addForeign(ctx, t, store, key, "Foreign")
		r := &Reconciler{Status: store, Cluster: store}
		if err := r.objectStatus(ctx, obj, applied, "rev-1"); err != nil {
			t.Fatalf("writing the status: %v", err)
		}
		check(t, store, "Foreign")
	})

	t.Run("a write just before Laiki's", func(t *testing.T) {
		store := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(app.DeepCopy()).WithStatusSubresource(app).Build()
		obj := readAtStart(t, store)
		// Another writer gets in between Laiki's read and its write, once.
		var raced atomic.Bool
		race := func(ctx context.Context) {
			if raced.CompareAndSwap(false, true) {
				addForeign(ctx, t, store, key, "Raced")
			}
		}
		c := interceptor.NewClient(store.(client.WithWatch), interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				race(ctx)
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				race(ctx)
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		})
		r := &Reconciler{Status: c, Cluster: c}
		if err := r.objectStatus(ctx, obj, applied, "rev-1"); err != nil {
			t.Fatalf("writing the status: %v", err)
		}
		if !raced.Load() {
			t.Fatal("no write raced Laiki's")
		}
		check(t, store, "Raced")
	})

	t.Run("nothing to change writes nothing", func(t *testing.T) {
		store := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(app.DeepCopy()).WithStatusSubresource(app).Build()
		r := &Reconciler{Status: store, Cluster: store}
		if err := r.objectStatus(ctx, readAtStart(t, store), applied, "rev-1"); err != nil {
			t.Fatal(err)
		}
		before := readAtStart(t, store).GetResourceVersion()
		if err := r.objectStatus(ctx, readAtStart(t, store), applied, "rev-1"); err != nil {
			t.Fatal(err)
		}
		if after := readAtStart(t, store).GetResourceVersion(); after != before {
			t.Errorf("an unchanged status was written (resourceVersion %s, then %s)", before, after)
		}
		check(t, store)
	})
}

// Every Laiki kind has its Go type in the scheme, with the one Status: the
// status is patched on typed objects.
func TestEveryKindHasTheStatus(t *testing.T) {
	s := cluster.Scheme()
	for _, kind := range cluster.Kinds() {
		obj, err := s.New(cluster.GVK(kind))
		if err != nil {
			t.Errorf("%s: %v", kind, err)
			continue
		}
		if _, ok := obj.(statusObject); !ok {
			t.Errorf("%s (%T) has no Laiki status", kind, obj)
		}
	}
}

// An object's Event tells of a change to a verdict short of Ready, once.
func TestObjectStatusEvents(t *testing.T) {
	ctx := context.Background()
	app := &v1alpha1.ShinyProxyApp{ObjectMeta: metav1.ObjectMeta{Name: "one", Namespace: "team", Generation: 1}}
	store := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(app).WithStatusSubresource(app).Build()
	rec := record.NewFakeRecorder(10)
	r := &Reconciler{Status: store, Cluster: store, Recorder: rec}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(cluster.GVK("ShinyProxyApp"))
	if err := store.Get(ctx, client.ObjectKeyFromObject(app), obj); err != nil {
		t.Fatal(err)
	}
	failed := verdict{reason: v1alpha1.ApplyFailedReason, message: "refused"}
	for i, v := range []verdict{failed, failed, {ready: true, reason: v1alpha1.AppliedReason, message: "accepted and applied"}} {
		if err := r.objectStatus(ctx, obj, v, "rev-1"); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	if len(got) != 1 || got[0] != "Warning ApplyFailed refused" {
		t.Errorf("events %q, want one Warning ApplyFailed", got)
	}
}
