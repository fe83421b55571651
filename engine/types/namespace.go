package types

// KubernetesNamespaceKey is the Laiki key of every target's laiki-spec that
// names the Kubernetes namespace its objects go to. A Laiki namespace is a
// name teams bind to (the design document's "ShinyProxy"), often not one
// Kubernetes takes; this key lets the platform choose the one it deploys
// to rather than take the mapped name (kube.Name).
const KubernetesNamespaceKey = "laiki-kubernetes-namespace"

// KubernetesNamespace is the namespace a target's spec names with
// laiki-kubernetes-namespace, "" when it names none (or not as a string:
// the schema check says so at the key).
func KubernetesNamespace(spec any) string {
	m, _ := spec.(map[string]any)
	ns, _ := m[KubernetesNamespaceKey].(string)
	return ns
}
