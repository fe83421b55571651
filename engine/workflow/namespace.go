package workflow

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/types"
)

// Where a target's objects go in Kubernetes.
//
// A Laiki namespace is what teams bind their apps to; a Kubernetes namespace
// is where objects live. By default the one is the other, mapped to a name
// Kubernetes takes (kube.Name: "ShinyProxy" becomes shinyproxy-ae8ef13dc8).
// A target may instead name its Kubernetes namespace with
// laiki-kubernetes-namespace, and the targets of one Laiki namespace may name
// different ones: each object goes where its own target says. What must
// line up is what ShinyProxy's app pods reach by a local name: the claim of
// the Crane storage they mount (and the image pull secrets), which must be
// in the namespace the pods run in, proxy.kubernetes.namespace.

// KubeNamespaceKey is the Laiki key that names a target's Kubernetes namespace.
const KubeNamespaceKey = types.KubernetesNamespaceKey

// KubeNamespace is the Kubernetes namespace a target's objects go to: the
// one its laiki-kubernetes-namespace names, else its Laiki namespace as a
// Kubernetes name. Every workflow and the reconcile loop ask it, so that an
// object and whatever looks for it agree.
func KubeNamespace(t *document.Document) string {
	if ns := types.KubernetesNamespace(t.Spec); ns != "" {
		return ns
	}
	return kube.Name(t.Namespace)
}

// dropLaikiTargetKeys takes out of a target's configuration the Laiki keys
// every target type has: they say where Laiki deploys the component, and
// the component would not know them.
func dropLaikiTargetKeys(config *yaml.Node) {
	remove(config, KubeNamespaceKey)
}

// placeAppPods sets where ShinyProxy runs app pods on Kubernetes: the
// target's own Kubernetes namespace unless the platform chose one, since
// ShinyProxy's default is "default", where nothing Laiki makes for the apps
// is. Where the platform's choice (or the Crane target's namespace) keeps
// an app's pod from the claim of its Crane data, it says so, at the target:
// the pod would not start.
func placeAppPods(c *Context, t *document.Document, proxy *yaml.Node) []finding.Finding {
	if containerBackend(t) != "kubernetes" {
		return nil
	}
	k8s := get(proxy, "kubernetes")
	if k8s == nil {
		k8s = mapping()
		set(proxy, "kubernetes", k8s)
	}
	if k8s.Kind != yaml.MappingNode {
		return nil // not ShinyProxy's settings: the platform's to fix, not Laiki's to replace
	}
	pods := KubeNamespace(t)
	switch ns := get(k8s, "namespace"); {
	case ns == nil || ns.Tag == "!!null" || (ns.Kind == yaml.ScalarNode && ns.Value == ""):
		set(k8s, "namespace", str(pods))
	case ns.Kind == yaml.ScalarNode:
		pods = ns.Value
	default:
		return nil // not a name: ShinyProxy refuses it, and it is the platform's to fix
	}
	return claimsElsewhere(c, t, pods)
}

// claimsElsewhere warns, once for the target, when the Crane claims its
// apps mount are not in the namespace their pods run in.
func claimsElsewhere(c *Context, t *document.Document, pods string) []finding.Finding {
	apps := map[string][]string{} // by the claim's namespace
	for _, app := range c.Bound(t, "ShinyProxyApp") {
		repo, f := craneRepoFor(c, app)
		if f != nil || repo == nil || laikiStorage(repo.crane, "kubernetes")["csi"] != nil {
			continue // no claim: nothing, or an inline CSI volume, which has no namespace
		}
		if ns := KubeNamespace(repo.crane); ns != pods {
			apps[ns] = append(apps[ns], app.ID)
		}
	}
	if len(apps) == 0 {
		return nil
	}
	namespaces := make([]string, 0, len(apps))
	var ids []string
	for ns, list := range apps {
		namespaces = append(namespaces, ns)
		ids = append(ids, list...)
	}
	sort.Strings(namespaces)
	sort.Strings(ids)
	return []finding.Finding{{Severity: finding.Warn, Location: t.Location(), Policy: CheckWorkflow, Source: t.Source.Name,
		Message: fmt.Sprintf("the Crane data claims of its apps are in %s, but app pods run in %s, and a pod mounts only a claim of its own namespace: apps %s would not start; %s",
			strings.Join(namespaces, ", "), pods, strings.Join(ids, ", "), alignFix(t, namespaces, pods))}}
}

// alignFix says how to bring app pods and their claims together, by who
// chose where the pods run.
func alignFix(t *document.Document, claims []string, pods string) string {
	if pods != KubeNamespace(t) { // the platform's proxy.kubernetes.namespace
		return fmt.Sprintf("set proxy.kubernetes.namespace to %s (or leave it out: Laiki sets it to this target's namespace, %s), or give the Crane target %s: %s",
			strings.Join(claims, " or "), KubeNamespace(t), KubeNamespaceKey, pods)
	}
	return fmt.Sprintf("give the Crane target %s: %s, or this target %s: %s",
		KubeNamespaceKey, pods, KubeNamespaceKey, strings.Join(claims, " or "))
}
