package types

import "github.com/laiki-platform/laiki/engine/finding"

// Crane: a Crane server's configuration (Crane's own keys under `app`) plus
// the Laiki settings that say how app containers reach Crane's storage.
func init() {
	RegisterTarget(&TargetType{
		Name: "Crane",
		Schema: &Schema{What: "Crane target", Field: Field{Type: Object, Unknown: finding.Warn, Fields: map[string]Field{
			"app":     {Type: Map},
			"server":  {Type: Map},
			"spring":  {Type: Map},
			"logging": {Type: Map},
			// storage: how app containers mount a repository's data.
			"storage": {Type: Map},
		}}},
	})
}
