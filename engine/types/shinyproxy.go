package types

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/image"
	"github.com/laiki-platform/laiki/engine/schema"
)

// ShinyProxy: the spec is a standard ShinyProxy application.yml, passed on as
// the platform wrote it, plus the keys of the ShinyProxy operator that
// deploys it (fqdn, image, ...). Laiki insists that apps come from their own
// files, so that data scientists, not the platform file, own them, and on
// what the operator needs to run the ShinyProxy the platform means.
func init() {
	RegisterTarget(&TargetType{
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
