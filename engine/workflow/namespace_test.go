package workflow_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// A platform of every target type in one Laiki namespace, whose ShinyProxy
// apps keep their data in Crane: the ShinyProxy target's proxy section is
// the argument, the Crane and PrePuller targets' laiki-spec extras are
// the others.
func namespaced(t *testing.T, proxy, craneExtra, pullerExtra string) (*pipeline.Result, *workflow.Desired) {
	t.Helper()
	dir := tree(t, map[string]string{
		"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n",
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: Apps}\nlaiki-spec:\n" +
			"  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n" + proxy,
		"platform/crane.yaml": "laiki-metadata: {target-type: Crane, name: crane, namespace: Apps}\nlaiki-spec:\n" +
			"  app: {storage-location: /srv/crane}\n  laiki-storage: {kubernetes: {claim: {size: 10Gi}}}\n" + craneExtra,
		"platform/puller.yaml": "laiki-metadata: {target-type: PrePuller, name: pull, namespace: Apps}\nlaiki-spec:\n" + pullerExtra,
		"platform/app.yaml": "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: Apps}\nlaiki-spec:\n" +
			"  id: demo\n  container-image: registry.example.com/demo:1\n  crane-data-repository: {read-access: {users: [jack]}}\n",
	})
	res := runConfig(t, filepath.Join(dir, "laiki.yaml"))
	return res, workflow.RenderAndJudge(res)
}

// objectNamespaces gives each rendered object's namespace, by kind.
func objectNamespaces(t *testing.T, d *workflow.Desired) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tg := range d.Targets {
		for _, o := range tg.Objects {
			m := plain(t, o)
			out[m["kind"].(string)] = dig(m, "metadata", "namespace").(string)
		}
	}
	return out
}

// Without laiki-kubernetes-namespace every object goes to the Laiki
// namespace's mapped name; with it, to the namespace it names, target by
// target; the key reaches neither ShinyProxy nor Crane.
func TestKubeNamespace(t *testing.T) {
	const backend = "  proxy: {containerBackend: kubernetes}\n"
	_, d := namespaced(t, backend, "", "")
	mapped := workflow.KubeName("Apps")
	for kind, ns := range objectNamespaces(t, d) {
		if ns != mapped {
			t.Errorf("%s in %s, want the mapped %s", kind, ns, mapped)
		}
	}

	own := "  " + workflow.KubeNamespaceKey + ": "
	res, d := namespaced(t, own+"shiny\n"+backend, own+"shiny\n", own+"pulling\n")
	if res.Failed() {
		t.Fatalf("findings: %v", res.Findings)
	}
	want := map[string]string{"ShinyProxy": "shiny", "ConfigMap": "shiny", "PersistentVolumeClaim": "shiny", "DaemonSet": "pulling"}
	if got := objectNamespaces(t, d); len(got) != len(want) {
		t.Errorf("objects: %v, want %v", got, want)
	} else {
		for kind, ns := range want {
			if got[kind] != ns {
				t.Errorf("%s in %s, want %s", kind, got[kind], ns)
			}
		}
	}
	for _, tg := range d.Targets {
		if strings.Contains(yamlOf(t, tg.Config), workflow.KubeNamespaceKey) {
			t.Errorf("%s's configuration carries %s:\n%s", tg.TargetType, workflow.KubeNamespaceKey, yamlOf(t, tg.Config))
		}
		for _, o := range tg.Objects {
			if strings.Contains(yamlOf(t, o), workflow.KubeNamespaceKey) {
				t.Errorf("%s's object carries %s:\n%s", tg.TargetType, workflow.KubeNamespaceKey, yamlOf(t, o))
			}
		}
	}
	for _, tg := range res.Targets {
		if got := workflow.KubeNamespace(tg); got != map[string]string{"ShinyProxy": "shiny", "Crane": "shiny", "PrePuller": "pulling"}[tg.Type] {
			t.Errorf("KubeNamespace(%s) = %s", tg.Type, got)
		}
	}
}

// appPodNamespace is where the ShinyProxy resource says app pods run.
func appPodNamespace(t *testing.T, d *workflow.Desired) any {
	t.Helper()
	for _, tg := range d.Targets {
		for _, o := range tg.Objects {
			if m := plain(t, o); m["kind"] == "ShinyProxy" {
				return dig(m, "spec", "proxy", "kubernetes", "namespace")
			}
		}
	}
	t.Fatal("no ShinyProxy resource")
	return nil
}

// claimNamespace is where the Crane workflow makes its claim.
func claimNamespace(t *testing.T, d *workflow.Desired) any {
	t.Helper()
	for _, tg := range d.Targets {
		for _, o := range tg.Objects {
			if m := plain(t, o); m["kind"] == "PersistentVolumeClaim" {
				return dig(m, "metadata", "namespace")
			}
		}
	}
	t.Fatal("no claim")
	return nil
}

// namespaceWarnings are the workflow's warnings that app pods and the
// Crane claims they mount are in different namespaces.
func namespaceWarnings(d *workflow.Desired) []finding.Finding {
	var out []finding.Finding
	for _, f := range d.Findings {
		if f.Severity == finding.Warn && strings.Contains(f.Message, "app pods run in") {
			out = append(out, f)
		}
	}
	return out
}

// ShinyProxy runs app pods in proxy.kubernetes.namespace (default
// "default", not its own namespace), and a pod mounts only a claim of its
// own namespace: Laiki sets it where the target's objects go, which is
// where the Crane claim is, and says so when the platform set it, or the
// Crane target's namespace, elsewhere.
func TestAppPodsWhereTheirClaimsAre(t *testing.T) {
	own := "  " + workflow.KubeNamespaceKey + ": "
	for name, c := range map[string]struct {
		proxy, crane string
		pods, claim  string
		warn         bool
	}{
		"mapped":               {proxy: "  proxy: {containerBackend: kubernetes}\n", pods: workflow.KubeName("Apps"), claim: workflow.KubeName("Apps")},
		"chosen":               {proxy: own + "shiny\n  proxy: {containerBackend: kubernetes}\n", crane: own + "shiny\n", pods: "shiny", claim: "shiny"},
		"set where the claims": {proxy: "  proxy: {containerBackend: kubernetes, kubernetes: {namespace: data}}\n", crane: own + "data\n", pods: "data", claim: "data"},
		"set elsewhere":        {proxy: "  proxy: {containerBackend: kubernetes, kubernetes: {namespace: elsewhere}}\n", pods: "elsewhere", claim: workflow.KubeName("Apps"), warn: true},
		"crane elsewhere":      {proxy: own + "shiny\n  proxy: {containerBackend: kubernetes}\n", crane: own + "data\n", pods: "shiny", claim: "data", warn: true},
	} {
		t.Run(name, func(t *testing.T) {
			res, d := namespaced(t, c.proxy, c.crane, "")
			if got := appPodNamespace(t, d); got != c.pods {
				t.Errorf("proxy.kubernetes.namespace = %v, want %s", got, c.pods)
			}
			if got := claimNamespace(t, d); got != c.claim {
				t.Errorf("the claim is in %v, want %s", got, c.claim)
			}
			ws := namespaceWarnings(d)
			if !c.warn {
				if len(ws) > 0 {
					t.Errorf("unexpected: %v", ws)
				}
				return
			}
			sp := res.Targets[0]
			for _, tg := range res.Targets {
				if tg.Type == "ShinyProxy" {
					sp = tg
				}
			}
			if len(ws) != 1 || ws[0].Location.File != sp.File || ws[0].Location.Line != sp.Line ||
				!strings.Contains(ws[0].Message, "the Crane data claims of its apps are in "+c.claim+", but app pods run in "+c.pods) ||
				!strings.Contains(ws[0].Message, workflow.KubeNamespaceKey) {
				t.Errorf("want one warning at the target's line %s:%d naming %s and %s, with the fix: %+v", sp.File, sp.Line, c.claim, c.pods, ws)
			}
			if !res.Resources[0].Accepted {
				t.Error("a warning: the app still deploys")
			}
		})
	}
	// On Docker, there is no Kubernetes namespace to set.
	_, d := namespaced(t, "  proxy: {containerBackend: docker}\n", "", "")
	if got := appPodNamespace(t, d); got != nil {
		t.Errorf("docker backend: proxy.kubernetes.namespace = %v", got)
	}
}
