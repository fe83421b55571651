package types

import "testing"

// Binds holds for every target type listed, in whatever order a type's
// file lists them (it binary-searched a list nothing sorted).
func TestBindsWhateverTheOrder(t *testing.T) {
	r := &ResourceType{Name: "X", TargetTypes: []string{"ShinyProxy", "Crane"}}
	for _, tt := range []string{"ShinyProxy", "Crane"} {
		if !r.Binds(tt) {
			t.Errorf("a resource of %v must bind to %s", r.TargetTypes, tt)
		}
	}
	if r.Binds("PrePuller") {
		t.Error("bound to a type it does not list")
	}
	if !(&ResourceType{Name: "Y"}).Binds("anything") {
		t.Error("no list means any target type")
	}
}
