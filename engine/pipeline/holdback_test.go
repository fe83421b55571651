package pipeline_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
)

// A platform pre-processor in error holds back every resource it would
// have applied to (by its target-namespace and target-name), whatever the
// error: an app must never run without the platform's settings because the
// platform misspelt its pre-processor. One from a team source never does,
// or a team could hold back another team's apps.
func TestPreProcessorInErrorHoldsBack(t *testing.T) {
	for name, tc := range map[string]struct {
		pp   string // the platform's pre-processor document
		line int    // where its error is
		msg  string
		held []string // apps held back; the others stay accepted
	}{
		"misspelt pre-processor-name": {
			pp:   strings.Replace(defaults, "ShinyProxyAppDefaultsPreProcessor", "ShinyProxyAppDefaultsPreProcesor", 1),
			line: 2, msg: "unknown pre-processor-name ShinyProxyAppDefaultsPreProcesor", held: []string{"a1", "a2", "b1"}},
		"unknown metadata key": {
			pp:   strings.Replace(defaults, "  name: defaults\n", "  name: defaults\n  target-nmae: sp\n", 1),
			line: 4, msg: "unknown key laiki-metadata.target-nmae", held: []string{"a1", "a2", "b1"}},
		"narrowed to a target": {
			pp:   strings.Replace(strings.Replace(defaults, "ShinyProxyAppDefaultsPreProcessor", "Nope", 1), "  name: defaults\n", "  name: defaults\n  target-name: sp\n", 1),
			line: 2, msg: "unknown pre-processor-name Nope", held: []string{"a1", "a2"}},
		"narrowed to another target": {
			pp:   strings.Replace(strings.Replace(defaults, "ShinyProxyAppDefaultsPreProcessor", "Nope", 1), "  name: defaults\n", "  name: defaults\n  target-name: sp2\n", 1),
			line: 2, msg: "unknown pre-processor-name Nope", held: []string{"b1"}},
		"bad YAML in its spec": {
			pp:   defaults + "  fallback: {}\n",
			line: 14, msg: "already defined", held: []string{"a1", "a2", "b1"}},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{
				"laiki.yaml":        teamConfig,
				"platform/sp.yaml":  shinyproxy + "---\n" + strings.Replace(shinyproxy, "name: sp", "name: sp2", 1),
				"platform/pp.yaml":  tc.pp,
				"team-a/a1.yaml":    app("a1"),
				"team-a/a2.yaml":    app("a2"),
				"team-b/b1.yaml":    strings.Replace(app("b1"), "target-name: sp", "target-name: sp2", 1),
				"team-b/other.yaml": strings.Replace(strings.Replace(app("o1"), "target-namespace: apps", "target-namespace: other", 1), "target-name: sp", "target-name: sp3", 1),
				"platform/sp3.yaml": strings.Replace(strings.Replace(shinyproxy, "namespace: apps", "namespace: other", 1), "name: sp", "name: sp3", 1),
			}
			res := run(t, tree(t, files))
			has(t, res, finding.Error, "platform/pp.yaml", tc.line, tc.msg)
			held := map[string]bool{}
			for _, id := range tc.held {
				held[id] = true
				r := resource(t, res, id)
				if r.Accepted {
					t.Errorf("%s accepted without the platform's pre-processor", id)
				}
				found := false
				for _, f := range res.FindingsFor(r.Doc) {
					if strings.Contains(f.Message, "held back") && strings.Contains(f.Message, "pp.yaml") {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: no finding says it is held back by pp.yaml:\n%s", id, dump(res.FindingsFor(r.Doc)))
				}
			}
			for _, id := range []string{"a1", "a2", "b1", "o1"} {
				if r := resource(t, res, id); !held[id] && !r.Accepted {
					t.Errorf("%s is not in the pre-processor's reach and must stay accepted:\n%s", id, dump(res.FindingsFor(r.Doc)))
				}
			}
		})
	}
}

// A pre-processor a team source brings is refused, and holds back nothing:
// otherwise any team could stop every app of the namespace.
func TestTeamPreProcessorHoldsBackNothing(t *testing.T) {
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":       teamConfig,
		"platform/sp.yaml": shinyproxy,
		"team-b/pp.yaml":   strings.Replace(defaults, "ShinyProxyAppDefaultsPreProcessor", "Broken", 1),
		"team-a/a1.yaml":   app("a1"),
	}))
	has(t, res, finding.Error, "team-b/pp.yaml", -1, "may not declare a pre-processor")
	if !resource(t, res, "a1").Accepted {
		t.Errorf("a team's pre-processor must not hold back another team's app:\n%s", dump(res.Findings))
	}
}

// A finding about a key a pre-processor set is the platform's to fix: it is
// at the pre-processor's file and line (the rule that set the key), names
// the platform's source, and names the resource's line as related; what the
// team wrote stays the team's.
func TestBlameOnThePreProcessor(t *testing.T) {
	custom := "package laiki.preprocessors.AddKey\n\nspec := object.union(input[\"laiki-spec\"], {\"brand-new-key\": 1, \"displayName\": \"X\"})\n"
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":       teamConfig,
		"team-b/.keep":     "",
		"platform/sp.yaml": shinyproxy,
		"platform/defaults.yaml": strings.Replace(defaults, "    container-memory-limit: 512Mi\n",
			"    container-memory-limit: lots\n", 1),
		"platform/add.yaml": "laiki-metadata:\n  pre-processor-name: AddKey\n  name: zz-add\n  target-namespace: apps\nlaiki-spec: {}\n",
		"platform/add.rego": custom,
		"team-a/a.yaml":     app("a", "  brandNewTeamKey: 1\n"),
		"team-a/b.yaml":     app("b", "  container-memory-limit: 1Gi\n"),
		"team-a/c.yaml":     app("c"),
	}))
	f := has(t, res, finding.Error, "platform/defaults.yaml", 8, `"lots" is not a Kubernetes quantity`)
	if f.Source != "platform" || !strings.Contains(f.Message, "set by pre-processor apps/defaults, fallback") || len(f.Related) == 0 || !strings.HasSuffix(f.Related[0].File, "team-a/c.yaml") {
		t.Errorf("blame: %+v", f)
	}
	f = has(t, res, finding.Warn, "platform/add.yaml", 5, "unknown key brand-new-key")
	if f.Source != "platform" || !strings.Contains(f.Message, "pre-processor apps/zz-add") {
		t.Errorf("blame: %+v", f)
	}
	has(t, res, finding.Warn, "platform/add.yaml", 5, "displayName is read as display-name")
	has(t, res, finding.Error, "team-a/a.yaml", 8, "unknown key brandNewTeamKey")
	// b wrote its own limit: the fallback did not set it, nothing to blame.
	if !resource(t, res, "b").Accepted {
		t.Errorf("b: %s", dump(res.FindingsFor(resource(t, res, "b").Doc)))
	}
}
