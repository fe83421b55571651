package pipeline_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// platformOnly runs the given platform files as the one platform source.
func platformOnly(t *testing.T, files map[string]string) *pipeline.Result {
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

// The ShinyProxy operator requires fqdn (its CRD does, and it starts no
// ShinyProxy without one): a target without it is told so at its
// laiki-spec, in check, render and the webhook alike, rather than by the
// API server at apply. A warning: the design document's target leaves the
// operator's keys out, and a target in error would not be deployed at all.
// A wrong fqdn is an error.
func TestShinyProxyFqdn(t *testing.T) {
	sp := "laiki-metadata:\n  target-type: ShinyProxy\n  name: sp\n  namespace: apps\nlaiki-spec:\n" +
		"  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {title: Apps}\n"
	res := platformOnly(t, map[string]string{"sp.yaml": sp})
	f := has(t, res, finding.Warn, "sp.yaml", 5, "no fqdn")
	if !strings.Contains(f.Message, "fqdn: shinyproxy.example.com") || f.Field != "laiki-spec" || f.Policy != finding.CheckSchema {
		t.Errorf("the warning says how to fix it, at the spec: %+v", f)
	}
	if len(res.Targets) != 1 || res.Failed() {
		t.Errorf("a warning: the target is still deployed (%d targets)", len(res.Targets))
	}

	for value, want := range map[string]string{`""`: "fqdn must be", "[a]": "fqdn must be", "not_a host": "is not a host name"} {
		res = platformOnly(t, map[string]string{"sp.yaml": strings.Replace(sp, "laiki-spec:\n", "laiki-spec:\n  fqdn: "+value+"\n", 1)})
		has(t, res, finding.Error, "sp.yaml", 6, want)
	}

	res = platformOnly(t, map[string]string{"sp.yaml": strings.Replace(sp, "laiki-spec:\n", "laiki-spec:\n  fqdn: apps.example.com\n", 1)})
	if len(res.Findings) != 0 || len(res.Targets) != 1 {
		t.Errorf("a target with fqdn and a pinned image: %s", dump(res.Findings))
	}
}

// Without a pinned image the ShinyProxy operator runs
// openanalytics/shinyproxy:latest, pulled on every start: whatever was
// pushed last, and no start while the registry is down. A warning, with
// the fix, where the fix goes.
func TestShinyProxyImagePinned(t *testing.T) {
	for name, c := range map[string]struct {
		keys string
		line int
		want string // "" when nothing is said
		sev  finding.Severity
	}{
		"no image":                 {keys: "", line: 5, want: "openanalytics/shinyproxy:latest", sev: finding.Warn},
		"no tag":                   {keys: "  image: openanalytics/shinyproxy\n  imagePullPolicy: IfNotPresent\n", line: 7, want: "no tag", sev: finding.Warn},
		"latest":                   {keys: "  image: openanalytics/shinyproxy:latest\n  imagePullPolicy: IfNotPresent\n", line: 7, want: "latest", sev: finding.Warn},
		"latest of a registry":     {keys: "  image: registry.example.com:5000/shinyproxy\n  imagePullPolicy: IfNotPresent\n", line: 7, want: "no tag", sev: finding.Warn},
		"pinned, pulled always":    {keys: "  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: Always\n", line: 8, want: "imagePullPolicy: IfNotPresent", sev: finding.Warn},
		"pinned, default policy":   {keys: "  image: openanalytics/shinyproxy:3.2.0\n", line: 7, want: "imagePullPolicy: IfNotPresent", sev: finding.Warn},
		"bad policy":               {keys: "  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: Sometimes\n", line: 8, want: "Always, IfNotPresent or Never", sev: finding.Error},
		"pinned":                   {keys: "  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n"},
		"by digest":                {keys: "  image: openanalytics/shinyproxy@sha256:" + strings.Repeat("ab", 32) + "\n"},
		"by digest, pulled always": {keys: "  image: openanalytics/shinyproxy:3.2.0@sha256:" + strings.Repeat("ab", 32) + "\n  imagePullPolicy: Always\n"},
		"never pulled":             {keys: "  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: Never\n"},
	} {
		t.Run(name, func(t *testing.T) {
			sp := "laiki-metadata:\n  target-type: ShinyProxy\n  name: sp\n  namespace: apps\nlaiki-spec:\n  fqdn: apps.example.com\n" + c.keys + "  proxy: {title: Apps}\n"
			res := platformOnly(t, map[string]string{"sp.yaml": sp})
			if c.want == "" {
				if len(res.Findings) != 0 {
					t.Errorf("nothing to say: %s", dump(res.Findings))
				}
				return
			}
			f := has(t, res, c.sev, "sp.yaml", c.line, c.want)
			if c.sev == finding.Warn && !strings.Contains(f.Message, "openanalytics/shinyproxy:3.2.0") && !strings.Contains(f.Message, "IfNotPresent") {
				t.Errorf("the warning gives no fix: %s", f.Message)
			}
			if len(res.Findings) != 1 {
				t.Errorf("one finding: %s", dump(res.Findings))
			}
		})
	}
}
