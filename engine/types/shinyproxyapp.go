package types

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/schema"
)

// Name is what an app id, and a target's or pre-processor's name and
// namespace, may be: ShinyProxy puts the id in URLs (/app/ID) and Laiki
// puts ids and names in object and file names, so they are kept to a safe
// alphabet, at most 63 characters.
var Name = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

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
		if !Name.MatchString(v.(string)) {
			return fmt.Sprintf("%q is not a valid app id: letters, digits, '.', '_' and '-', starting and ending with a letter or digit, at most 63", v)
		}
		return ""
	})
	repo := s.Fields["crane-data-repository"]
	repo.Fields["name"] = schema.WithCheck(repo.Fields["name"], func(v any) string {
		if !Name.MatchString(v.(string)) {
			return fmt.Sprintf("%q is not a valid repository name: letters, digits, '.', '_' and '-', at most 63", v)
		}
		return ""
	})
	RegisterResource(&ResourceType{
		Name:        "ShinyProxyApp",
		Kind:        "ShinyProxyApp",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "id",
		Schema:      s,
	})
}
