package types

import "github.com/laiki-platform/laiki/engine/finding"

// Crane: a Crane server's configuration (Crane's own application.yml keys:
// app, server, spring, logging, ...) plus laiki-storage, the Laiki setting
// that says how app containers reach Crane's storage. Laiki removes
// laiki-storage from the configuration it renders for Crane.
func init() {
	RegisterTarget(&TargetType{
		Name: "Crane",
		Schema: &Schema{What: "Crane target", Field: Field{Type: Object, Fields: map[string]Field{
			"app": {Type: Map},
			"laiki-storage": {Type: Object, Unknown: finding.Error, Fields: map[string]Field{
				"kubernetes": {Type: Object, Unknown: finding.Error, Fields: map[string]Field{
					// A ReadWriteMany claim that holds Crane's storage-location;
					// default <crane name>-storage.
					"persistent-volume-claim": {Type: String},
					// Or an inline CSI volume.
					"csi": {Type: Object, Unknown: finding.Error, Fields: map[string]Field{
						"driver":            {Type: String, Required: true},
						"volume-attributes": {Type: StringMap},
					}},
				}},
				"docker": {Type: Object, Unknown: finding.Error, Fields: map[string]Field{
					// The host directory that holds Crane's storage-location;
					// default app.storage-location when it is a local path.
					"host-path": {Type: String},
				}},
			}},
		}}},
	})
}
