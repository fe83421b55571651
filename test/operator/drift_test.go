package operator

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/test/gittest"
)

// What is in Git is exactly what runs: a map key, a list entry and a
// nested key removed from Git leave the live ShinyProxy resource and the
// PrePuller's DaemonSet on the next `laiki apply`; a field another field
// manager set stays; and an apply with nothing to change writes nothing.
func TestRemovedSettingsLeaveTheCluster(t *testing.T) {
	ctx := context.Background()
	ns := "drift-removed"
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	write := func(env, cmd, proxyExtra, selector string) {
		t.Helper()
		gittest.Write(t, filepath.Join(dir, "platform"), map[string]string{
			"shinyproxy.yaml": "laiki-metadata:\n  target-type: ShinyProxy\n  name: apps\n  namespace: " + ns +
				"\nlaiki-spec:\n  fqdn: apps.example.com\n  proxy:\n    title: Apps\n" + proxyExtra,
			"pre-puller.yaml": "laiki-metadata:\n  target-type: PrePuller\n  name: pre-puller\n  namespace: " + ns + "\nlaiki-spec:\n" + selector,
		})
		gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:1") + env + cmd})
	}
	cfg := teams(t, dir, ns, "team")
	apply := func() result {
		return runLaiki(t, "apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "--instance", "drift-removed")
	}
	write("  container-env: {A: '1', B: '2'}\n", "  container-cmd: [R, -e, run()]\n", "    hide-navbar: true\n    usage-stats-url: http://stats\n",
		"  node-selector: {pool: apps, zone: a}\n")
	apply()
	// Another manager's field, beside Laiki's.
	sp := kube.Name(ns)
	u, err := shinyProxy(t, sp, "apps")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"proxy":{"landing-page":"/other"}}}`)), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}

	// One removal at a time, so that no other change hides it.
	env, cmd, extra, sel := "  container-env: {A: '1', B: '2'}\n", "  container-cmd: [R, -e, run()]\n", "    hide-navbar: true\n    usage-stats-url: http://stats\n", "  node-selector: {pool: apps, zone: a}\n"
	for _, step := range []struct {
		name  string
		edit  func()
		check func(u map[string]any, ds *appsv1.DaemonSet) bool
	}{
		{"a map key of an app", func() { env = "  container-env: {A: '1'}\n" }, func(u map[string]any, _ *appsv1.DaemonSet) bool {
			e, _ := appOf(u)["container-env"].(map[string]any)
			return e["B"] == nil && e["A"] == "1"
		}},
		{"a list entry of an app", func() { cmd = "  container-cmd: [R, -e]\n" }, func(u map[string]any, _ *appsv1.DaemonSet) bool {
			c, _ := appOf(u)["container-cmd"].([]any)
			return len(c) == 2
		}},
		{"a nested key of the target", func() { extra = "    hide-navbar: true\n" }, func(u map[string]any, _ *appsv1.DaemonSet) bool {
			p, _ := u["spec"].(map[string]any)["proxy"].(map[string]any)
			return p["usage-stats-url"] == nil && p["landing-page"] == "/other"
		}},
		{"a node selector key of the PrePuller", func() { sel = "  node-selector: {pool: apps}\n" }, func(_ map[string]any, ds *appsv1.DaemonSet) bool {
			return ds.Spec.Template.Spec.NodeSelector["zone"] == "" && ds.Spec.Template.Spec.NodeSelector["pool"] == "apps"
		}},
	} {
		step.edit()
		write(env, cmd, extra, sel)
		r := apply()
		u, err := shinyProxy(t, sp, "apps")
		if err != nil {
			t.Fatal(err)
		}
		ds := &appsv1.DaemonSet{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: sp, Name: "pre-puller"}, ds); err != nil {
			t.Fatal(err)
		}
		if !step.check(u.Object, ds) {
			t.Errorf("%s removed from Git stays in the cluster (or another manager's field went):\nShinyProxy %v\nnodeSelector %v\n%s", step.name,
				u.Object["spec"], ds.Spec.Template.Spec.NodeSelector, r.stdout)
		}
	}
	u, err = shinyProxy(t, sp, "apps")
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to change: nothing written.
	before := u.GetResourceVersion()
	if r := apply(); r.code != 0 && r.code != 1 {
		t.Fatalf("apply: %d\n%s", r.code, r.stderr)
	}
	if u, _ = shinyProxy(t, sp, "apps"); u.GetResourceVersion() != before {
		t.Error("an apply with nothing to change wrote the ShinyProxy resource")
	}
}

// appOf is app "a" of a ShinyProxy resource's spec.
func appOf(u map[string]any) map[string]any {
	specs, _ := u["spec"].(map[string]any)["proxy"].(map[string]any)["specs"].([]any)
	for _, s := range specs {
		if m, _ := s.(map[string]any); m["id"] == "a" {
			return m
		}
	}
	return nil
}

// `laiki apply` from CI/CD, as the README gives it (no --status-namespace):
// an update a policy rejects leaves the running version deployed, and says
// so; the memory is in the cluster, in laiki-system.
func TestApplyKeepsTheRunningVersion(t *testing.T) {
	// A bad merge: an image reference the baseline refuses.
	keepsRunning(t, "drift-keep", appFile("drift-keep", "a", "registry.example.com/a/a:not a tag"), "")
}

// A new version that the policies accept but a workflow refuses (its data
// repository names a Crane target that is not there) keeps the running
// version too: the reconcile loop holds what the workflows take back, not
// only what the policies reject.
func TestApplyKeepsTheRunningVersionAWorkflowRefuses(t *testing.T) {
	ns := "drift-keep-wf"
	keepsRunning(t, ns, appFile(ns, "a", "registry.example.com/a/a:2")+
		"  access-users: [jack]\n  crane-data-repository: {crane: not-there, name: a-data, read-access: {users: [jack]}}\n", "no Crane target not-there")
}

// keepsRunning applies app a at image :1 in namespace ns (instance ns),
// then the bad version, and checks that :1 still runs and apply says it
// kept it; refused, when set, is what apply must say of the bad version.
func keepsRunning(t *testing.T, ns, bad, refused string) {
	t.Helper()
	namespace(t, kube.Name(ns))
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"a.yaml": appFile(ns, "a", "registry.example.com/a/a:1")})
	cfg := teams(t, dir, ns, "team")
	apply := func() result {
		return runLaiki(t, "apply", "--config", cfg, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "--instance", ns)
	}
	apply()
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"a.yaml": bad})
	r := apply()
	if refused != "" && !strings.Contains(r.stdout+r.stderr, refused) {
		t.Fatalf("apply must refuse the new version (%s):\n%s%s", refused, r.stdout, r.stderr)
	}
	u, err := shinyProxy(t, kube.Name(ns), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if got := apps(u)["a"]["container-image"]; got != "registry.example.com/a/a:1" {
		t.Errorf("the running version must stay deployed: a runs %v\n%s%s", got, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "kept ShinyProxyApp "+ns+"/apps/a at its last accepted version") {
		t.Errorf("apply must say it kept it:\n%s", r.stdout)
	}
}
