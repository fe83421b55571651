package types

import (
	"fmt"
	"reflect"
	"slices"

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
			var problems []Problem
			if specs, ok := proxy["specs"]; ok && specs != nil {
				problems = append(problems, Problem{Path: []string{"proxy", "specs"}, Severity: finding.Error,
					Message: "the base ShinyProxy configuration must not list apps: give each app its own ShinyProxyApp file, bound to this target"})
			}
			ecr, _ := m["laiki-ecr"].(map[string]any)
			if od, ok := ecr["on-delete"].(string); ok && !slices.Contains([]string{"keep", "delete-if-empty", "force"}, od) {
				problems = append(problems, Problem{Path: []string{"laiki-ecr", "on-delete"}, Severity: finding.Error,
					Message: fmt.Sprintf("on-delete is keep, delete-if-empty or force, not %q", od)})
			}
			return problems
		},
	})
}
