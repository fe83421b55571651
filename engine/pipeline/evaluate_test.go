package pipeline_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Pre-processors and governance run in one evaluation; a key a
// pre-processor spelt otherwise is renamed after it, and governance judges
// the spec with the key renamed, as it did when it was evaluated on its own.
func TestGovernanceSeesRenamedKeys(t *testing.T) {
	rename := "package laiki.preprocessors.Name\n\nspec := object.union(input[\"laiki-spec\"], {\"displayName\": \"Named\"})\n"
	rule := "package laiki.governance.names\n\ndeny contains \"no display-name\" if not input[\"laiki-spec\"][\"display-name\"]\n\n" +
		"deny contains \"displayName\" if input[\"laiki-spec\"].displayName\n"
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":             teamConfig,
		"team-b/.keep":           "",
		"platform/sp.yaml":       shinyproxy,
		"platform/defaults.yaml": defaults,
		"platform/name.yaml":     "laiki-metadata:\n  pre-processor-name: Name\n  name: zz-name\n  target-namespace: apps\nlaiki-spec: {}\n",
		"platform/name.rego":     rename,
		"platform/rule.rego":     rule,
		"team-a/a.yaml":          app("a"),
	}))
	has(t, res, finding.Warn, "platform/name.yaml", 5, "displayName is read as display-name")
	a := resource(t, res, "a")
	if !a.Accepted {
		t.Errorf("governance judged the spec as the pre-processor spelt it:\n%s", dump(res.Findings))
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "display") && f.Policy == "laiki.governance.names" {
			t.Errorf("governance: %s", f.Message)
		}
	}
}
