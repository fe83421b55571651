package workflow

import (
	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// CheckWorkflow names findings that workflows make.
const CheckWorkflow = "laiki/workflow"

// operatorKeys are the keys of a ShinyProxy target that belong to the
// ShinyProxy operator's custom resource, not to application.yml.
var operatorKeys = map[string]bool{
	"image": true, "imagePullPolicy": true, "fqdn": true, "replicas": true, "appNamespaces": true,
	"kubernetesPodTemplateSpecPatches": true, "kubernetesIngressPatches": true, "kubernetesServicePatches": true,
	"antiAffinityTopologyKey": true, "antiAffinityRequired": true, "namespace": true,
}

// laikiOnlyKeys are app keys ShinyProxy does not know: workflows turn them into
// their effects, and they never reach ShinyProxy.
var laikiOnlyKeys = []string{"crane-data-repository", "pre-pull"}

func init() {
	Register(&Workflow{Name: "ShinyProxyAppToShinyProxyWorkflow", TargetType: "ShinyProxy", Makes: []string{"openanalytics.eu/v1 ShinyProxy"},
		Render: renderShinyProxy, Explain: explainImage})
}

// explainImage: the image an app runs is the one the PrePuller pulls, its
// repository in lower case.
func explainImage(r *pipeline.Resource, field []string, value any) string {
	spec, _ := r.Spec.(map[string]any)
	if len(field) != 1 || field[0] != "container-image" {
		return ""
	}
	if img, mapped := mappedImage(spec); !mapped || img != value {
		return ""
	}
	return "the repository in lower case, as the PrePuller pulls it"
}

// renderShinyProxy puts every accepted ShinyProxyApp bound to the target
// under proxy.specs, by id, into the platform's configuration as written.
func renderShinyProxy(c *Context, t *document.Document, out *Target, d *Desired) []finding.Finding {
	full := out.Config.Node // application.yml keys and operator keys, as written
	proxy := get(full, "proxy")
	if proxy == nil || proxy.Kind != yaml.MappingNode {
		proxy = mapping()
		set(full, "proxy", proxy)
	}
	// A base configuration that lists apps is refused by the ShinyProxy
	// target type's check, so specs is Laiki's alone here.
	var fs []finding.Finding
	specs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, app := range c.Bound(t, "ShinyProxyApp") {
		// The image that runs is the one the PrePuller pulls; an app whose
		// image no node could pull is left out.
		if f := imageFinding(app); f != nil {
			fs = append(fs, *f)
			if f.Severity.Blocking() {
				continue
			}
		}
		n := appNode(app)
		// Laiki-only keys become their effects; an app whose effect cannot
		// be had is left out rather than run without its data.
		repo, f := craneRepoFor(c, app)
		if f == nil && repo != nil {
			f = mountCraneRepo(n, repo, containerBackend(t))
		}
		if f != nil {
			fs = append(fs, *f)
			continue
		}
		specs.Content = append(specs.Content, n)
	}
	fs = append(fs, placeAppPods(c, t, proxy)...)
	set(proxy, "specs", specs)

	// application.yml: the configuration less the operator's keys.
	appYML := mapping()
	for i := 0; i+1 < len(full.Content); i += 2 {
		if !operatorKeys[full.Content[i].Value] {
			appYML.Content = append(appYML.Content, full.Content[i], full.Content[i+1])
		}
	}
	out.Config = Ordered{appYML}
	out.ConfigFile = "application.yml"
	out.Objects = append(out.Objects, Ordered{mapping(
		"apiVersion", "openanalytics.eu/v1",
		"kind", "ShinyProxy",
		"metadata", mapping("name", KubeName(t.Name), "namespace", KubeNamespace(t), "labels", managedLabels(t, "shinyproxy")),
		"spec", full,
	)})
	return append(fs, checkAgainstCRD(c, t, out)...)
}

// appNode writes an app's spec after pre-processors: id first, then the keys
// in the order the user wrote them, then keys the platform added, by name.
// Laiki-only keys are left out (their workflows render their effects), and
// the image is the one the PrePuller pulls (mappedImage).
func appNode(r *pipeline.Resource) *yaml.Node {
	spec, _ := r.Spec.(map[string]any)
	m := mapping("id", r.ID)
	written := map[string]bool{"id": true}
	for _, k := range laikiOnlyKeys {
		written[k] = true
	}
	for _, k := range r.Doc.SpecKeys() {
		if v, ok := spec[k]; ok && !written[k] && v != nil {
			set(m, k, node(v))
		}
		written[k] = true
	}
	extra := node(spec) // sorted keys
	for i := 0; i+1 < len(extra.Content); i += 2 {
		k := extra.Content[i].Value
		if !written[k] && spec[k] != nil {
			m.Content = append(m.Content, extra.Content[i], extra.Content[i+1])
		}
	}
	if img, ok := mappedImage(spec); ok {
		set(m, "container-image", str(img))
	}
	return m
}
