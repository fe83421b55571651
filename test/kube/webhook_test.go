package kube

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
)

var ns = kube.Name("ShinyProxy")

func get(t *testing.T, c client.Client, obj *unstructured.Unstructured) map[string]any {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(obj.GroupVersionKind())
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	spec, _ := got.Object["spec"].(map[string]any)
	return spec
}

// create creates an object and deletes it when the test ends, so that the
// tests do not see each other's apps.
func create(t *testing.T, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
}

func contains(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

// The demo app is stored with the platform's defaults applied, and the
// warning about its image reaches the client.
func TestDemoAppStoredWithDefaults(t *testing.T) {
	c, w := as(t, "alice", "team-a")
	obj := object(t, exampleText(t, "apps/shinyproxy-demo.yaml"))
	create(t, c, obj)
	spec := get(t, c, obj)
	for k, want := range map[string]any{"container-cpu-request": "0.25", "container-cpu-limit": int64(1), "container-memory-request": "256Mi",
		"container-memory-limit": "512Mi", "container-privileged": false} {
		if got := spec[k]; got != want && !(k == "container-cpu-limit" && got == float64(1)) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	if env, _ := spec["container-env"].(map[string]any); env["PLATFORM_VERSION"] != "v1.2" {
		t.Errorf("container-env = %v", spec["container-env"])
	}
	if ws := w.take(); !contains(ws, "upper case") {
		t.Errorf("the image warning must reach the client: %q", ws)
	}
}

// A privileged app is stored with container-privileged false, and told so.
func TestPrivilegedOverridden(t *testing.T) {
	c, w := as(t, "alice", "team-a")
	obj := object(t, app("privileged", "  container-privileged: true\n"))
	create(t, c, obj)
	if got := get(t, c, obj)["container-privileged"]; got != false {
		t.Errorf("container-privileged = %v", got)
	}
	if ws := w.take(); !contains(ws, "container-privileged: the platform sets false") {
		t.Errorf("warnings: %q", ws)
	}
}

// An app that breaks a governance rule is refused with the rule's message.
func TestGovernanceDenial(t *testing.T) {
	c, _ := as(t, "alice", "team-a")
	err := c.Create(context.Background(), object(t, app("patched", "  kubernetes-pod-patches: |\n    - op: add\n")))
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) && err == nil {
		t.Fatalf("want a denial, got %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "[laiki.governance.baseline] kubernetes-pod-patches") {
		t.Errorf("the denial must name the policy and the field: %v", err)
	}
}

// A team may not create a pre-processor, even where RBAC lets it.
func TestTeamCannotCreatePreProcessor(t *testing.T) {
	c, _ := as(t, "alice", "team-a")
	text := strings.Replace(exampleText(t, "platform/app-defaults.yaml"), "name: ShinyProxyAppDefaults", "name: mine", 1)
	err := c.Create(context.Background(), object(t, text))
	if err == nil || !strings.Contains(err.Error(), "may not declare a pre-processor") {
		t.Fatalf("want an access denial, got %v", err)
	}
	// A user in no source is refused too.
	c, _ = as(t, "mallory", "nobody")
	err = c.Create(context.Background(), object(t, app("mallory", "")))
	if err == nil || !strings.Contains(err.Error(), "not a subject of any source") {
		t.Fatalf("want a denial for a stranger, got %v", err)
	}
}

// Updates and server-side dry-run take the same path.
func TestUpdateAndDryRun(t *testing.T) {
	ctx := context.Background()
	c, _ := as(t, "alice", "team-a")
	obj := object(t, app("updated", "  container-env: {MINE: x}\n"))
	create(t, c, obj)
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(obj.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
		t.Fatal(err)
	}
	spec := stored.Object["spec"].(map[string]any)
	spec["container-privileged"] = true
	spec["kubernetes-pod-patches"] = "- op: add\n"
	err := c.Update(ctx, stored)
	if err == nil || !strings.Contains(err.Error(), "kubernetes-pod-patches is a platform-level setting") {
		t.Fatalf("an update must be judged like a create: %v", err)
	}
	delete(spec, "kubernetes-pod-patches")
	spec["container-env"] = map[string]any{"MINE": "y"}
	if err := c.Update(ctx, stored); err != nil {
		t.Fatalf("update: %v", err)
	}
	after := get(t, c, obj)
	if after["container-privileged"] != false || after["container-env"].(map[string]any)["PLATFORM_VERSION"] != "v1.2" {
		t.Errorf("the update must be mutated too: %v", after)
	}

	dry := object(t, app("dry", ""))
	if err := c.Create(ctx, dry, client.DryRunAll); err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	if spec, _ := dry.Object["spec"].(map[string]any); spec["container-memory-limit"] != "512Mi" {
		t.Errorf("the dry-run answer must carry the mutation: %v", dry.Object["spec"])
	}
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(dry.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(dry), probe); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run must store nothing: %v", err)
	}
	bad := object(t, app("dry-bad", "  docker-ipc: host\n"))
	if err := c.Create(ctx, bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "docker-ipc") {
		t.Errorf("a dry run must be refused like a real one: %v", err)
	}
}
