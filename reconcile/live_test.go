package reconcile

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What Apply keeps of a live object until the next run is what the serving
// checks read (metadata, status, spec.selector), not the spec that holds
// every app of a target.
func TestLiveKeepsWhatServingReads(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet",
		"metadata": map[string]any{"name": "pull", "generation": int64(3), "managedFields": []any{map[string]any{"manager": "laiki"}}},
		"spec":     map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"a": "b"}}, "template": map[string]any{"big": "spec"}},
		"status":   map[string]any{"numberReady": int64(2)},
	}}
	kept := observed(live)
	if kept.GetGeneration() != 3 || kept.GetName() != "pull" || kept.GetManagedFields() != nil {
		t.Errorf("metadata: %v", kept.Object["metadata"])
	}
	if n, _, _ := unstructured.NestedInt64(kept.Object, "status", "numberReady"); n != 2 {
		t.Errorf("status: %v", kept.Object["status"])
	}
	if sel, _, _ := unstructured.NestedStringMap(kept.Object, "spec", "selector", "matchLabels"); sel["a"] != "b" {
		t.Errorf("selector: %v", kept.Object["spec"])
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(kept.Object, "spec", "template"); found {
		t.Error("the spec is kept")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(live.Object, "metadata", "managedFields"); !found {
		t.Error("the live object was changed")
	}
}
