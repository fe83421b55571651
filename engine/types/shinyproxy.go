package types

import (
	"reflect"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
)

// ShinyProxy: the spec is a standard ShinyProxy application.yml, passed on as
// the platform wrote it. Laiki only insists that apps come from their own
// files, so that data scientists, not the platform file, own them.
func init() {
	RegisterTarget(&TargetType{
		Name:   "ShinyProxy",
		Kind:   "ShinyProxyTarget",
		Schema: FromGoType("ShinyProxy configuration", reflect.TypeOf(v1alpha1.ShinyProxyTargetSpec{}), ""),
		Check: func(spec any) []Problem {
			m, _ := spec.(map[string]any)
			proxy, _ := m["proxy"].(map[string]any)
			if specs, ok := proxy["specs"]; ok && specs != nil {
				return []Problem{{Path: []string{"proxy", "specs"}, Severity: finding.Error,
					Message: "the base ShinyProxy configuration must not list apps: give each app its own ShinyProxyApp file, bound to this target"}}
			}
			return nil
		},
	})
}
