package pipeline_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Keys are read as ShinyProxy binds them: another spelling of a key is the
// key for the schema, the pre-processors, governance and the render, with
// a warning at its line; two spellings of one key are an error.
func TestCanonicalKeys(t *testing.T) {
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":             teamConfig,
		"team-b/.keep":           "",
		"platform/sp.yaml":       shinyproxy,
		"platform/defaults.yaml": defaults,
		"team-a/a.yaml":          app("a", "  displayName: A\n  Container-Env: {My_Var: x}\n  maxInstances: 2\n"),
		"team-a/twice.yaml":      app("twice", "  display-name: A\n  display_name: B\n"),
	}))
	a := resource(t, res, "a")
	if !a.Accepted {
		t.Fatalf("a: %s", dump(res.FindingsFor(a.Doc)))
	}
	spec := a.Spec.(map[string]any)
	if spec["display-name"] != "A" || spec["max-instances"] != int64(2) || spec["displayName"] != nil {
		t.Errorf("keys not canonical: %v", spec)
	}
	env := spec["container-env"].(map[string]any)
	if env["My_Var"] != "x" || env["PLATFORM_VERSION"] != "v1.2" {
		t.Errorf("the pre-processor must see container-env under its name, and the names in it stay: %v", env)
	}
	has(t, res, finding.Warn, "team-a/a.yaml", 8, "displayName is read as display-name")
	has(t, res, finding.Warn, "team-a/a.yaml", 9, "Container-Env is read as container-env")
	has(t, res, finding.Error, "team-a/twice.yaml", 9, `"display-name" and "display_name" are one key`)
	if resource(t, res, "twice").Accepted {
		t.Error("two spellings of one key must be refused")
	}
	// A finding about a renamed key points at the line as written.
	if loc := a.Doc.PosOf("laiki-spec", "max-instances"); loc.Line != 10 {
		t.Errorf("max-instances is at line 10 as maxInstances, got %d", loc.Line)
	}
}

// An unknown key is an error from a team (ShinyProxy may bind it past
// every rule), a warning from the platform, and policy-data.baseline may
// allow it by name or lower the error; a property path is an error from a
// team whatever the platform lowers.
func TestUnknownKeysByRole(t *testing.T) {
	files := func(policyData string) map[string]string {
		return map[string]string{
			"laiki.yaml":        teamConfig + policyData,
			"team-b/.keep":      "",
			"platform/sp.yaml":  shinyproxy,
			"platform/app.yaml": strings.Replace(app("p", "  brand-new-key: 1\n"), "resource-type", "resource-type", 1),
			"team-a/new.yaml":   app("new", "  brand-new-key: 1\n"),
			"team-a/path.yaml":  app("path", "  container-volumes[0]: /:/host\n"),
			"team-a/path2.yaml": app("path2", "  container-env.X: y\n"),
		}
	}
	res := run(t, tree(t, files("")))
	has(t, res, finding.Error, "team-a/new.yaml", 8, "unknown key brand-new-key")
	has(t, res, finding.Warn, "platform/app.yaml", 8, "unknown key brand-new-key")
	has(t, res, finding.Error, "team-a/path.yaml", 8, "unknown key container-volumes[0]")
	has(t, res, finding.Error, "team-a/path2.yaml", 8, "unknown key container-env.X")
	if resource(t, res, "new").Accepted || !resource(t, res, "p").Accepted || resource(t, res, "path").Accepted {
		t.Error("verdicts")
	}

	res = run(t, tree(t, files("policy-data:\n  baseline:\n    allowed-keys: [brand-new-key]\n")))
	if !resource(t, res, "new").Accepted {
		t.Errorf("an allowed key: %s", dump(res.Findings))
	}
	res = run(t, tree(t, files("policy-data:\n  baseline:\n    unknown-keys: warn\n")))
	has(t, res, finding.Warn, "team-a/new.yaml", 8, "unknown key brand-new-key")
	if !resource(t, res, "new").Accepted || resource(t, res, "path").Accepted || resource(t, res, "path2").Accepted {
		t.Errorf("unknown-keys: warn lowers unknown keys, never property paths: %s", dump(res.Findings))
	}
}
