package types

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

func TestSchemasFromGoTypes(t *testing.T) {
	app, _ := Resource("ShinyProxyApp")
	f := app.Schema.Fields
	for key, want := range map[string]ValueType{
		"id": String, "container-cpu-limit": Quantity, "container-env": StringMap, "container-cmd": StringList,
		"access-groups": StringOrList, "container-privileged": Bool, "max-instances": Int, "parameters": Map,
		"container-specs": List, "crane-data-repository": Object,
	} {
		if f[key].Type != want {
			t.Errorf("%s: %v, want %v", key, f[key].Type, want)
		}
	}
	if _, ok := f["targetName"]; ok {
		t.Error("object-only fields are not spec keys")
	}
	if !f["id"].Required || f["crane-data-repository"].Unknown != finding.Error || app.Schema.Unknown != finding.Warn {
		t.Error("tags not read")
	}
}

func TestSchemaCheck(t *testing.T) {
	app, _ := Resource("ShinyProxyApp")
	ps := app.Schema.Check(map[string]any{
		"id": "../x", "container-cpu-limit": "lots", "access-groups": []any{"a", int64(1)},
		"crane-data-repository": map[string]any{"mount-read-only": "yes", "colour": "red"},
		"container-imag":        "x",
	})
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, strings.Join(p.Path, ".")+": "+p.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`id: id: "../x" is not a valid app id`,
		`container-cpu-limit: container-cpu-limit: "lots" is not a Kubernetes quantity`,
		`access-groups.1: access-groups[1] must be a string`,
		`crane-data-repository.mount-read-only: crane-data-repository.mount-read-only must be true or false`,
		`crane-data-repository.colour: unknown key crane-data-repository.colour`,
		`container-imag: unknown key container-imag for a ShinyProxy app (did you mean container-image?)`,
		`: the spec needs container-image`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
}
