package types

import "github.com/laiki-platform/laiki/engine/finding"

// PrePuller: a DaemonSet that pulls the images of the ShinyProxyApps in its
// namespace onto every node as it starts. An empty spec is the usual case.
func init() {
	RegisterTarget(&TargetType{
		Name: "PrePuller",
		Schema: &Schema{What: "PrePuller", Field: Field{Type: Object, Unknown: finding.Error, Fields: map[string]Field{
			"node-selector":       {Type: StringMap},
			"tolerations":         {Type: List},
			"priority-class-name": {Type: String},
			"helper-image":        {Type: String},
			"image-pull-secrets":  {Type: StringList},
		}}},
	})
}
