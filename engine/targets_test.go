package engine_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/finding"
)

// platformOnly runs the given platform files as the one platform source.
func platformOnly(t *testing.T, files map[string]string) *engine.Result {
	t.Helper()
	all := map[string]string{"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n"}
	for name, text := range files {
		all["platform/"+name] = text
	}
	return run(t, tree(t, all))
}

// A Laiki namespace Kubernetes does not take is mapped: the warning says to
// what, and how to choose the namespace instead. A target that chooses its
// own is not warned about.
func TestNamespaceNamingWarning(t *testing.T) {
	target := func(typ, name, extra string) string {
		return "laiki-metadata:\n  target-type: " + typ + "\n  name: " + name + "\n  namespace: ShinyProxy\nlaiki-spec:\n" + extra
	}
	res := platformOnly(t, map[string]string{"puller.yaml": target("PrePuller", "pull", "")})
	f := has(t, res, finding.Warn, "puller.yaml", 4, "namespace ShinyProxy is not a valid Kubernetes namespace name")
	for _, want := range []string{"shinyproxy-ae8ef13dc8", "laiki-kubernetes-namespace: shinyproxy"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("the warning does not say %q: %s", want, f.Message)
		}
	}

	res = platformOnly(t, map[string]string{"puller.yaml": target("PrePuller", "pull", "  laiki-kubernetes-namespace: shinyproxy\n")})
	for _, f := range res.Findings {
		if f.Policy == finding.CheckNaming {
			t.Errorf("a target that names its Kubernetes namespace: %s", f.Message)
		}
	}

	res = platformOnly(t, map[string]string{"puller.yaml": target("PrePuller", "pull", "  laiki-kubernetes-namespace: Shiny_Proxy\n")})
	has(t, res, finding.Error, "puller.yaml", 6, `laiki-kubernetes-namespace: "Shiny_Proxy" is not a Kubernetes namespace name`)
}
