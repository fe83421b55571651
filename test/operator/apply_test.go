package operator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type result struct {
	code           int
	stdout, stderr string
}

func runLaiki(t *testing.T, args ...string) result {
	t.Helper()
	return runWithEnv(t, nil, args...)
}

// `laiki apply` on the bundled examples (the data variant), as written: a
// dry run that writes nothing and shows the diff; an apply that creates the
// ShinyProxy resource (accepted by the operator's real CRD), the PrePuller
// DaemonSet, and the Crane configuration and claim; a second apply that
// writes nothing; and a target removed from the platform, whose object is
// pruned while an object Laiki did not make is left alone.
func TestApplyExamples(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	copyDir(t, filepath.Join(repo, "examples"), dir) // as written: the bundled platform needs nothing more
	cfg := filepath.Join(dir, "laiki-with-data.yaml")
	cache := t.TempDir()
	base := []string{"apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", cache, "--instance", "examples"}

	dry := runLaiki(t, append(base, "--dry-run")...)
	if dry.code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	for _, want := range []string{"would create ShinyProxy " + spNamespace + "/" + spName, "would create DaemonSet " + spNamespace + "/pre-puller",
		"+++ laiki/ShinyProxy/", "id: shinyproxy-demo", "--- /dev/null", "dry run: 5 created"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, dry.stdout)
		}
	}
	if _, err := shinyProxy(t, spNamespace, spName); !apierrors.IsNotFound(err) {
		t.Fatalf("the dry run wrote the ShinyProxy resource (%v)", err)
	}

	first := runLaiki(t, base...)
	if first.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	if !strings.Contains(first.stdout, "applied: 5 created, 0 updated, 0 unchanged, 0 pruned, 0 failed") {
		t.Errorf("apply output:\n%s", first.stdout)
	}
	sp, err := shinyProxy(t, spNamespace, spName)
	if err != nil {
		t.Fatalf("no ShinyProxy resource: %v\n%s", err, first.stdout)
	}
	demo := apps(sp)["shinyproxy-demo"]
	if demo == nil || demo["container-memory-limit"] != "512Mi" || demo["container-privileged"] != false {
		t.Errorf("the demo app without its defaults: %v", demo)
	}
	if patches, _ := demo["kubernetes-pod-patches"].(string); !strings.Contains(patches, "/mnt/data") {
		t.Errorf("the demo app has no data mount: %v", demo)
	}
	ds := &appsv1.DaemonSet{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "pre-puller"}, ds); err != nil {
		t.Fatalf("no PrePuller DaemonSet: %v", err)
	}
	var images []string
	for _, c := range ds.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	if !strings.Contains(strings.Join(images, " "), "openanalytics/shinyproxy-demo") {
		t.Errorf("the DaemonSet does not pull the demo image: %v", images)
	}
	crane := &corev1.ConfigMap{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "crane-config"}, crane); err != nil {
		t.Fatalf("no Crane configuration: %v", err)
	}
	if !strings.Contains(crane.Data["application.yml"], "shinyproxy-demo") {
		t.Errorf("the Crane configuration lacks the app's repository:\n%s", crane.Data["application.yml"])
	}
	// The claim the app's pods mount, where they run.
	if err := admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "crane-storage"}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("no Crane storage claim: %v", err)
	}
	if ns, _, _ := unstructured.NestedString(sp.Object, "spec", "proxy", "kubernetes", "namespace"); ns != spNamespace {
		t.Errorf("app pods run in %q, not where their claim is", ns)
	}

	// Nothing changed: nothing written, not even a resourceVersion.
	versions := func() []string {
		sp, _ := shinyProxy(t, spNamespace, spName)
		_ = admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "pre-puller"}, ds)
		_ = admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "crane-config"}, crane)
		return []string{sp.GetResourceVersion(), ds.ResourceVersion, crane.ResourceVersion}
	}
	before := versions()
	second := runLaiki(t, base...)
	if second.code != 0 || !strings.Contains(second.stdout, "applied: 0 created, 0 updated, 4 unchanged, 0 pruned, 0 failed") {
		t.Errorf("second apply: exit %d\n%s%s", second.code, second.stdout, second.stderr)
	}
	if after := versions(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("a second apply with no change wrote: resourceVersions %v, then %v", before, after)
	}

	// A DaemonSet with Laiki's labels that Laiki did not apply stays.
	bystander := ds.DeepCopy()
	bystander.ObjectMeta = metaWithLabels("bystander", spNamespace, ds.Labels)
	bystander.Status = appsv1.DaemonSetStatus{}
	if err := admin.Create(ctx, bystander); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "platform", "pre-puller.yaml")); err != nil {
		t.Fatal(err)
	}
	third := runLaiki(t, base...)
	if third.code != 0 || !strings.Contains(third.stdout, "pruned DaemonSet "+spNamespace+"/pre-puller") {
		t.Errorf("apply without the PrePuller: exit %d\n%s%s", third.code, third.stdout, third.stderr)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "pre-puller"}, &appsv1.DaemonSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("the PrePuller's DaemonSet was not pruned (%v)", err)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: spNamespace, Name: "bystander"}, &appsv1.DaemonSet{}); err != nil {
		t.Errorf("a DaemonSet Laiki did not make was touched: %v", err)
	}
	if _, err := shinyProxy(t, spNamespace, spName); err != nil {
		t.Errorf("the ShinyProxy resource went with the PrePuller: %v", err)
	}
}
