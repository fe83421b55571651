package workflow

import (
	"bytes"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/laiki-platform/laiki/engine/document"
)

// The DaemonSet rendered is the typed one built: its tree, read back as
// JSON into an appsv1.DaemonSet (unknown fields refused), is the same
// object. A field the builders set that daemonSetNode does not write, or
// writes wrong, fails here.
func TestPrePullerNodeIsTheDaemonSet(t *testing.T) {
	images := []prePullImage{{ref: "nginx:latest", apps: 2}, {ref: "redis:7", apps: 1}, {ref: "registry.example.com/team/app:1", apps: 1}}
	refs := []string{images[0].ref, images[1].ref, images[2].ref}
	pod := prePullPod(map[string]any{"helper-image": "my/busybox:1"}, images, true)
	// What placePod sets, each field once.
	pod.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "aa"}, {Name: "regcred"}}
	pod.NodeSelector = map[string]string{"pool": "apps", "disk": "ssd"}
	pod.Tolerations = []corev1.Toleration{
		toleration(map[string]any{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60}),
		toleration(map[string]any{"operator": "Exists"}),
	}
	pod.PriorityClassName = "low"
	ds := prePullDaemonSet(&document.Document{Name: "Pull_Er", Namespace: "apps"}, refs, pod, "2026-01-01T00:00:00Z")

	raw, err := json.Marshal(Ordered{daemonSetNode(ds)})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var back appsv1.DaemonSet
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the rendered DaemonSet does not read as one: %v\n%s", err, raw)
	}
	if !equality.Semantic.DeepEqual(ds, &back) {
		want, _ := json.Marshal(ds)
		t.Errorf("the rendered DaemonSet is not the one built:\n got %s\nwant %s", raw, want)
	}
	if bytes.Contains(raw, []byte("{}")) || bytes.Contains(raw, []byte("null")) {
		t.Errorf("empty or null values rendered: %s", raw)
	}
}
