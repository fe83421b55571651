package kube

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
)

// Teams that share a target share its namespace, and RBAC is per
// namespace: the webhook keeps each kubectl object its creator's. Another
// team may neither change nor delete it; the platform may change it, and
// it stays the team's; nobody can claim an object by its annotation.
func TestKubectlObjectsBelongToTheirSource(t *testing.T) {
	ctx := context.Background()
	alice, _ := as(t, "alice", "team-a")
	bob, _ := as(t, "bob", "team-b")
	pat, _ := as(t, "pat", "platform-admins")

	obj := object(t, app("owned-by-a", ""))
	ann := obj.GetAnnotations()
	ann[kube.AnnotationSource] = "platform" // a claim the webhook overrides
	obj.SetAnnotations(ann)
	create(t, alice, obj)
	owner := func() string {
		t.Helper()
		got := obj.DeepCopy()
		if err := alice.Get(ctx, keyOf(obj), got); err != nil {
			t.Fatal(err)
		}
		return got.GetAnnotations()[kube.AnnotationSource]
	}
	if o := owner(); o != "team-a" {
		t.Fatalf("owner %q, want team-a (the creator's source, whatever the object claims)", o)
	}

	// Team B: a patch of the image, a replacement, a delete: all refused.
	patch := []byte(`{"spec":{"container-image":"registry.example.com/team-b/evil:1"}}`)
	if err := bob.Patch(ctx, obj, rawMerge(patch)); err == nil || !strings.Contains(err.Error(), "belongs to source team-a") {
		t.Errorf("team-b's patch: %v", err)
	}
	if err := bob.Delete(ctx, obj); err == nil || !strings.Contains(err.Error(), "belongs to source team-a") {
		t.Errorf("team-b's delete: %v", err)
	}
	// Team A may change its own object, but not give it away.
	if err := alice.Patch(ctx, obj, rawMerge([]byte(`{"metadata":{"annotations":{"laiki.io/source":"team-b"}},"spec":{"display-name":"A"}}`))); err != nil {
		t.Errorf("team-a's own patch: %v", err)
	}
	if o := owner(); o != "team-a" {
		t.Errorf("owner %q after team-a's patch: it never changes", o)
	}
	// The platform may change it; it stays team-a's, judged as team-a's.
	if err := pat.Patch(ctx, obj, rawMerge([]byte(`{"spec":{"display-name":"By the platform"}}`))); err != nil {
		t.Errorf("the platform's patch: %v", err)
	}
	if o := owner(); o != "team-a" {
		t.Errorf("owner %q after the platform's patch", o)
	}
	if err := pat.Patch(ctx, obj, rawMerge([]byte(`{"spec":{"container-privileged":true,"kubernetes-pod-patches":"x"}}`))); err == nil {
		t.Error("a team's object is judged as the team's, whoever writes it: platform keys are refused")
	}
	if err := alice.Delete(ctx, obj); err != nil {
		t.Errorf("team-a deletes its own: %v", err)
	}
}

func keyOf(o client.Object) client.ObjectKey { return client.ObjectKeyFromObject(o) }

func rawMerge(b []byte) client.Patch { return client.RawPatch(types.MergePatchType, b) }
