package workflow

import (
	"reflect"
	"testing"
)

// Workflows run after those their After names, by name where nothing
// orders them; a cycle, a name not registered and a second registration
// of one name are programming errors, said at once.
func TestRunOrder(t *testing.T) {
	ws := []*Workflow{
		{Name: "d", After: []string{"a", "b"}},
		{Name: "a", After: []string{"c"}},
		{Name: "b"},
		{Name: "c"},
	}
	var got []string
	for _, w := range runOrder(ws) {
		got = append(got, w.Name)
	}
	if want := []string{"b", "c", "a", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	for name, bad := range map[string][]*Workflow{
		"cycle":   {{Name: "a", After: []string{"b"}}, {Name: "b", After: []string{"a"}}},
		"unknown": {{Name: "a", After: []string{"z"}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			runOrder(bad)
		}()
	}
	defer func() {
		if recover() == nil {
			t.Error("a workflow registered twice: no panic")
		}
	}()
	Register(&Workflow{Name: "AwsEcrRepositoryWorkflow", TargetType: "ShinyProxy"})
}
