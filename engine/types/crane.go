package types

import (
	"reflect"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/schema"
)

// Crane: a Crane server's configuration (Crane's own application.yml keys:
// app, server, spring, logging, ...) plus laiki-storage, the Laiki setting
// that says how app containers reach Crane's storage. Laiki removes
// laiki-storage from the configuration it renders for Crane.
func init() {
	RegisterTarget(&TargetType{
		Name:   "Crane",
		Kind:   "CraneTarget",
		Schema: schema.FromGoType("Crane target", reflect.TypeOf(v1alpha1.CraneTargetSpec{}), ""),
	})
}
