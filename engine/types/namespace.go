package types

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

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

// dnsLabel is the check of a value that becomes a Kubernetes namespace
// name: a DNS-1123 label, as the API server has it.
func dnsLabel(v any) string {
	s, _ := v.(string)
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Sprintf("%q is not a Kubernetes namespace name: %s", s, strings.Join(errs, "; "))
	}
	return ""
}
