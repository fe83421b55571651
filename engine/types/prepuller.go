package types

import (
	"reflect"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
)

// PrePuller: a DaemonSet that pulls the images of the ShinyProxyApps in its
// namespace onto every node as it starts. An empty spec is the usual case.
func init() {
	RegisterTarget(&TargetType{
		Name:   "PrePuller",
		Kind:   "PrePullerTarget",
		Schema: FromGoType("PrePuller", reflect.TypeOf(v1alpha1.PrePullerTargetSpec{}), finding.Error),
	})
}
