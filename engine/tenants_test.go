package engine_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Two ShinyProxy targets in one namespace, one per team: allow.targets
// keeps each team to its own target, in files as through kubectl (the
// same access check).
func TestAllowTargets(t *testing.T) {
	cfg := strings.Replace(teamConfig, "      target-namespaces: [apps]\n", "      target-namespaces: [apps]\n      targets: [sp]\n", 1)
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":       cfg,
		"team-b/.keep":     "",
		"platform/sp.yaml": shinyproxy + "---\n" + strings.Replace(shinyproxy, "name: sp", "name: sp-b", 1),
		"team-a/own.yaml":  app("own"),
		"team-a/b.yaml":    strings.Replace(app("intruder"), "target-name: sp", "target-name: sp-b", 1),
	}))
	has(t, res, finding.Error, "team-a/b.yaml", 3, "may not bind resources to target apps/sp-b (allowed: sp)")
	for _, r := range res.Resources {
		if strings.HasSuffix(r.Doc.File, "team-a/b.yaml") && r.Accepted {
			t.Error("an app bound to another team's target must not be accepted")
		}
	}
	if !resource(t, res, "own").Accepted {
		t.Errorf("own:\n%s", dump(res.Findings))
	}
}
