package workflow

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/image"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// ShinyProxyApp: one ShinyProxy app (the keys ShinyProxy 3.2 binds, from the
// Go type v1alpha1.ShinyProxyAppSpec). ShinyProxy binds them with relaxed
// names, so the spec is Bound: keys are read in their canonical spelling,
// and an unknown key is an error from a team (ShinyProxy may bind a key
// Laiki does not know, past the platform's rules) and a warning from the
// platform; policy-data.baseline may allow named keys or lower the error.
func init() {
	s := schema.FromGoType("ShinyProxy app", reflect.TypeOf(v1alpha1.ShinyProxyAppSpec{}), finding.Error)
	s.Bound = true
	// Keys of ShinyProxy's other notation (containerproxy's ProxySpec) that
	// its flat notation does not read: they would do nothing.
	for key, why := range map[string]string{
		"container-labels": "ShinyProxy does not read container-labels for an app; its container labels are labels",
		"port-mappings":    "ShinyProxy does not read port-mappings for an app; write port, target-path and additional-port-mappings",
		"container-specs":  "ShinyProxy does not read container-specs for an app; write the container-* keys",
	} {
		s.Fields[key] = schema.Field{Type: schema.Any, Ignored: why}
	}
	s.Fields["id"] = schema.WithCheck(s.Fields["id"], func(v any) string {
		if !types.Name.MatchString(v.(string)) {
			return fmt.Sprintf("%q is not a valid app id: letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 63", v)
		}
		return ""
	})
	repo := s.Fields["crane-data-repository"]
	repo.Fields["name"] = schema.WithCheck(repo.Fields["name"], func(v any) string {
		if !types.Name.MatchString(v.(string)) {
			return fmt.Sprintf("%q is not a valid repository name: letters, digits, '.', '_' and '-', at most 63", v)
		}
		return ""
	})
	types.RegisterResource(&types.ResourceType{
		Name:        "ShinyProxyApp",
		Kind:        "ShinyProxyApp",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "id",
		Schema:      s,
	})
}

// ShinyProxy: the spec is a standard ShinyProxy application.yml, passed on as
// the platform wrote it, plus the keys of the ShinyProxy operator that
// deploys it (fqdn, image, ...). Laiki insists that apps come from their own
// files, so that data scientists, not the platform file, own them, and on
// what the operator needs to run the ShinyProxy the platform means.
func init() {
	types.RegisterTarget(&types.TargetType{
		Name:   "ShinyProxy",
		Kind:   "ShinyProxyTarget",
		Schema: schema.FromGoType("ShinyProxy configuration", reflect.TypeOf(v1alpha1.ShinyProxyTargetSpec{}), ""),
		Check: func(spec any) []schema.Problem {
			m, _ := spec.(map[string]any)
			var problems []schema.Problem
			for _, check := range []func(map[string]any) []schema.Problem{noApps, fqdn, pinnedImage} {
				problems = append(problems, check(m)...)
			}
			return problems
		},
	})
	// Its workflow.
	Register(&Workflow{Name: "ShinyProxyAppToShinyProxyWorkflow", TargetType: "ShinyProxy", Makes: []string{"openanalytics.eu/v1 ShinyProxy"},
		Render: renderShinyProxy, Explain: explainImage})
}

// pinnedShinyProxy is the image the fixes suggest: a release of ShinyProxy
// that Laiki's app keys are read against.
const pinnedShinyProxy = "openanalytics/shinyproxy:3.2.0"

func noApps(m map[string]any) []schema.Problem {
	proxy, _ := m["proxy"].(map[string]any)
	if specs, ok := proxy["specs"]; ok && specs != nil {
		return []schema.Problem{{Path: []string{"proxy", "specs"}, Severity: finding.Error,
			Message: "the base ShinyProxy configuration must not list apps: give each app its own ShinyProxyApp file, bound to this target"}}
	}
	return nil
}

// fqdn: the ShinyProxy operator's CRD requires it and the operator starts
// no ShinyProxy without one. A missing one is a warning, not an error: the
// design document's target leaves the operator's keys to the platform
// ("# ..."), and a target in error would not be deployed at all (the
// reconcile loop prunes its objects: the ShinyProxy running would go),
// while without fqdn the API server refuses the new resource and the one
// running stays. A wrong value is an error: nothing of it can be deployed.
func fqdn(m map[string]any) []schema.Problem {
	v, ok := m["fqdn"]
	if !ok {
		return []schema.Problem{{Severity: finding.Warn,
			Message: "no fqdn, the host name ShinyProxy is served under: the ShinyProxy operator requires it (its CRD does, and it starts no ShinyProxy without one), so the API server refuses this target's ShinyProxy resource until it is there; add it, e.g. fqdn: shinyproxy.example.com"}}
	}
	host, isString := v.(string)
	if !isString || host == "" {
		return []schema.Problem{{Path: []string{"fqdn"}, Severity: finding.Error,
			Message: fmt.Sprintf("fqdn must be the host name ShinyProxy is served under (e.g. shinyproxy.example.com), not %s", schema.Describe(v))}}
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return []schema.Problem{{Path: []string{"fqdn"}, Severity: finding.Error,
			Message: fmt.Sprintf("fqdn: %q is not a host name (the operator makes its Ingress for it): %s", host, strings.Join(errs, "; "))}}
	}
	return nil
}

// pinnedImage: without image the ShinyProxy operator runs
// openanalytics/shinyproxy:latest, and with any image it pulls on every
// start unless imagePullPolicy says otherwise. A restart may then run
// another ShinyProxy than the one the apps were checked against, and none
// starts while the registry is down.
func pinnedImage(m map[string]any) []schema.Problem {
	policy, hasPolicy := m["imagePullPolicy"]
	if p, ok := policy.(string); hasPolicy && (!ok || !slices.Contains([]string{"Always", "IfNotPresent", "Never"}, p)) {
		return []schema.Problem{{Path: []string{"imagePullPolicy"}, Severity: finding.Error,
			Message: fmt.Sprintf("imagePullPolicy is Always, IfNotPresent or Never, not %s", schema.Describe(policy))}}
	}
	v, ok := m["image"]
	if !ok {
		return []schema.Problem{{Severity: finding.Warn,
			Message: fmt.Sprintf("no image: the ShinyProxy operator runs openanalytics/shinyproxy:latest and pulls it on every start (imagePullPolicy Always), so a restart may run another ShinyProxy, and none starts while the registry is down; pin one: image: %s, with imagePullPolicy: IfNotPresent", pinnedShinyProxy)}}
	}
	ref, _ := v.(string)
	if !image.Valid(ref) {
		return []schema.Problem{{Path: []string{"image"}, Severity: finding.Error,
			Message: fmt.Sprintf("image must be an image reference a node can pull (e.g. %s), not %s", pinnedShinyProxy, schema.Describe(v))}}
	}
	tag, digest := image.Tag(ref)
	switch {
	case digest:
		return nil // pinned, and pulling it again gives the same image
	case tag == "" || tag == "latest":
		what := "has no tag (so it is latest)"
		if tag != "" {
			what = "is tagged latest"
		}
		return []schema.Problem{{Path: []string{"image"}, Severity: finding.Warn,
			Message: fmt.Sprintf("image %s %s: a restart may run another ShinyProxy than the one running now; pin a release (e.g. image: %s, or a digest), with imagePullPolicy: IfNotPresent", ref, what, pinnedLike(ref))}}
	case policy == "Always" || !hasPolicy:
		at, why := []string{"imagePullPolicy"}, "imagePullPolicy Always"
		if !hasPolicy {
			at, why = []string{"image"}, "imagePullPolicy Always, the operator's default"
		}
		return []schema.Problem{{Path: at, Severity: finding.Warn,
			Message: fmt.Sprintf("the ShinyProxy operator pulls %s again on every start (%s): no ShinyProxy starts while the registry is down, and a tag pushed again runs another image; set imagePullPolicy: IfNotPresent", ref, why)}}
	}
	return nil
}

// pinnedLike suggests a pinned form of an unpinned image: the release Laiki
// knows for ShinyProxy's own, a version tag for another.
func pinnedLike(ref string) string {
	repo, _, _ := strings.Cut(ref, "@")
	if tag, _ := image.Tag(repo); tag != "" {
		repo = strings.TrimSuffix(repo, ":"+tag)
	}
	if repo == "openanalytics/shinyproxy" || repo == "docker.io/openanalytics/shinyproxy" {
		return pinnedShinyProxy
	}
	return repo + ":<version>"
}

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
