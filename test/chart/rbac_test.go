package chart

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/laiki-platform/laiki/engine/source"
)

// With namespaces set, the operator's ServiceAccount may do exactly what
// Laiki does and nothing more: the real API server is asked
// (SubjectAccessReview) every verb on every kind it serves, in the target
// namespace, the release namespace, kube-system and cluster-wide, and any
// answer beyond the list fails. So the operator, which parses untrusted
// team input, cannot rewrite kube-system, read ConfigMaps everywhere, make
// a DaemonSet outside its targets, or loosen its own configuration.
func TestRBACLeastPrivilege(t *testing.T) {
	const release, target = "laiki-least", "team-target"
	for _, ns := range []string{target} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	objs := render(t, release, "-f", ciValues, "--set", "namespaces={"+target+"}", "--set", "webhook.certManager.enabled=true",
		"--api-versions", "cert-manager.io/v1")
	applyAll(t, objs, release)
	sa := "system:serviceaccount:" + release + ":laiki"
	nobody := "system:serviceaccount:" + release + ":nobody" // bound to nothing

	// What Laiki does, by namespace ("*" any, "" cluster-scoped), as
	// group/resource verb.
	writes := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	want := map[string]bool{}
	allow := func(ns, gr string, verbs ...string) {
		for _, v := range verbs {
			want[ns+" "+gr+" "+v] = true
		}
	}
	for _, r := range []string{"preprocessors", "shinyproxytargets", "prepullertargets", "cranetargets", "shinyproxyapps", "awsecrrepositories"} {
		for _, ns := range []string{target, release, "kube-system", "", "*"} {
			allow(ns, "laiki.io/"+r, "get", "list", "watch")
		}
	}
	allow(target, "openanalytics.eu/shinyproxies", writes...)
	allow(target, "apps/daemonsets", writes...)
	allow(target, "/configmaps", writes...)
	allow(target, "/persistentvolumeclaims", "get", "list", "watch", "create", "update", "patch")
	allow(target, "/events", "create", "patch", "update")
	allow(target, "/pods", "get", "list", "watch")
	allow(target, "events.k8s.io/events", "create", "patch", "update")
	allow(release, "coordination.k8s.io/leases", writes...)
	allow(release, "/configmaps", "create")
	allow(release, "/events", "create", "patch", "update")
	allow(release, "events.k8s.io/events", "create", "patch", "update")

	dc, err := discovery.NewDiscoveryClientForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		t.Fatal(err)
	}
	var beyond []string
	asked := 0
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresources: the status ones are checked by TestRBACMatchesCode
			}
			gvr := gv.WithResource(r.Name)
			gr := gv.Group + "/" + r.Name
			namespaces := []string{""}
			if r.Namespaced {
				namespaces = []string{target, release, "kube-system", ""}
			}
			for _, ns := range namespaces {
				for _, verb := range append(writes, "deletecollection") {
					asked++
					if !allowed(t, sa, ns, verb, gvr, "") || allowed(t, nobody, ns, verb, gvr, "") {
						continue // not allowed, or allowed to every ServiceAccount by Kubernetes' defaults
					}
					key := ns + " " + gr + " " + verb
					if r.Namespaced && ns == "" {
						key = "* " + gr + " " + verb // in every namespace at once
					}
					if !want[key] {
						beyond = append(beyond, fmt.Sprintf("%s %s in %q", verb, gr, ns))
					}
				}
			}
		}
	}
	sort.Strings(beyond)
	for _, b := range beyond {
		t.Errorf("the operator may %s, which Laiki does not do", b)
	}
	// What it must be able to do, by name.
	for _, c := range []struct {
		verb, ns, name string
		gvr            schema.GroupVersionResource
		want           bool
	}{
		{"update", release, "laiki-status", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
		{"update", release, "laiki-accepted", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
		{"update", release, "laiki-ecr", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
		{"get", release, "laiki-policies", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
		{"update", release, "laiki-policies", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, false},
		{"update", release, "laiki-config", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, false},
		{"update", "kube-system", "aws-auth", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, false},
		{"patch", "", "laiki", schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, false},
	} {
		if got := allowedName(t, sa, c.ns, c.verb, c.gvr, c.name); got != c.want {
			t.Errorf("%s %s %s/%s: allowed %v, want %v", c.verb, c.gvr.Resource, c.ns, c.name, got, c.want)
		}
	}
	t.Logf("%d questions asked of the API server", asked)
}

// The chart installs with no sources (a platform may start with Laiki's
// objects and kubectl alone), and a push must carry a secret the chart
// made: an unsigned push is refused by default.
func TestInstallsEmptyWithPushSecret(t *testing.T) {
	const ns = "laiki-empty"
	objs := render(t, ns)
	applyAll(t, objs, ns)
	var cfg corev1.ConfigMap
	into(t, find(objs, "ConfigMap", "laiki-config"), &cfg)
	if _, err := source.ParseConfig("laiki.yaml", []byte(cfg.Data["laiki.yaml"])); err != nil {
		t.Errorf("the configuration of an empty install does not read: %v\n%s", err, cfg.Data["laiki.yaml"])
	}
	if find(objs, "Secret", "laiki-push") == nil {
		t.Error("no push secret made")
	}
	var d appsv1.Deployment
	into(t, find(objs, "Deployment", "laiki"), &d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--push-secret-env=LAIKI_PUSH_SECRET") {
		t.Errorf("the operator must require the push secret: %v", d.Spec.Template.Spec.Containers[0].Args)
	}
}
