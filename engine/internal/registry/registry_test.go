package registry

import (
	"reflect"
	"testing"
)

// Entries by name, listed sorted, a version that moves with each addition,
// and a second entry of one name refused out loud.
func TestRegistry(t *testing.T) {
	r := New[int]("number")
	r.Add("two", 2)
	r.Add("one", 1)
	if v, ok := r.Get("two"); !ok || v != 2 {
		t.Errorf("get two: %v %v", v, ok)
	}
	all, version := r.All()
	if !reflect.DeepEqual(r.Names(), []string{"one", "two"}) || !reflect.DeepEqual(all, []int{1, 2}) || version != 2 || r.Version() != 2 {
		t.Errorf("names %v, all %v, version %d", r.Names(), all, version)
	}
	defer func() {
		if got := recover(); got != "number one registered twice" {
			t.Errorf("second one: %v", got)
		}
	}()
	r.Add("one", 3)
}
