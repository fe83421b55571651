package operator

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/test/gittest"
)

// The PrePuller on a real API server, through `laiki apply` with its clock
// set (the hidden --now, for tests): with refresh: 24h the DaemonSet's pod
// template stays the same within a day and changes once the day has
// passed, so that an image whose tag can move is pulled again; an app with
// pre-pull: false is not in the DaemonSet; a pull secret the DaemonSet
// names that its namespace does not have is a warning, gone once the
// secret is there.
func TestPrePullerRefreshOptOutAndSecrets(t *testing.T) {
	ctx := context.Background()
	ns := "prepuller-refresh"
	namespace(t, ns)
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), map[string]string{
		"shinyproxy.yaml": "laiki-metadata: {target-type: ShinyProxy, name: apps, namespace: " + ns + "}\n" +
			"laiki-spec:\n  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {title: Apps}\n",
		"pre-puller.yaml": "laiki-metadata: {target-type: PrePuller, name: pre-puller, namespace: " + ns + "}\n" +
			"laiki-spec:\n  refresh: 24h\n  image-pull-secrets: [regcred]\n",
		"apps.yaml": appFile(ns, "moving", "registry.example.com/a/moving:latest") + "---\n" +
			appFile(ns, "skipped", "registry.example.com/a/skipped:1") + "  pre-pull: false\n",
	})
	cfg := teams(t, dir, ns)
	apply := func(now string) (result, *appsv1.DaemonSet) {
		t.Helper()
		r := runLaiki(t, "apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "--instance", "prepuller", "--now", now)
		// Exit 1 may be another test's Laiki objects, left in the shared
		// cluster; what this test applies must not fail.
		if r.code > 1 || !strings.Contains(r.stdout, ", 0 failed") || errorsIn(r.stderr, dir) {
			t.Fatalf("apply at %s: exit %d\n%s\n%s", now, r.code, r.stdout, r.stderr)
		}
		ds := &appsv1.DaemonSet{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pre-puller"}, ds); err != nil {
			t.Fatal(err)
		}
		return r, ds
	}

	r, ds := apply("2030-01-01T10:00:00Z")
	var images []string
	for _, c := range ds.Spec.Template.Spec.Containers {
		images = append(images, c.Image+" "+string(c.ImagePullPolicy))
	}
	if strings.Join(images, ",") != "registry.example.com/a/moving:latest Always" {
		t.Errorf("pulled %v: the moving tag, pulled again on every roll, and not the opted-out app's image", images)
	}
	if got := ds.Spec.Template.Annotations["laiki.io/refreshed"]; got != "2030-01-01T00:00:00Z" {
		t.Errorf("refresh annotation %q", got)
	}
	if !strings.Contains(r.stderr, "regcred") || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("no warning for the missing pull secret:\n%s", r.stderr)
	}

	secret := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}}
	secret.Namespace, secret.Name = ns, "regcred"
	if err := admin.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	generation := ds.Generation
	r, ds = apply("2030-01-01T23:59:59Z")
	if ds.Generation != generation {
		t.Errorf("within the interval the DaemonSet changed: generation %d -> %d", generation, ds.Generation)
	}
	if strings.Contains(r.stderr, "regcred") {
		t.Errorf("the secret is there, yet:\n%s", r.stderr)
	}

	_, ds = apply("2030-01-02T00:00:00Z")
	if ds.Generation == generation || ds.Spec.Template.Annotations["laiki.io/refreshed"] != "2030-01-02T00:00:00Z" {
		t.Errorf("the interval passed and the pod template did not change: generation %d, annotations %v", ds.Generation, ds.Spec.Template.Annotations)
	}
}

// errorsIn says whether a report has an error in a file under dir.
func errorsIn(report, dir string) bool {
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, dir) && strings.Contains(line, ": error:") {
			return true
		}
	}
	return false
}
