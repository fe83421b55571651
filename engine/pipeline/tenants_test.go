package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
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

// A name belongs to the source that declared it first (the reconcile
// loop's memory, Options.Owners): another source's claim is refused at its
// own line, naming the owner, and the owner's resource stays accepted; a
// duplicate inside one source is one; without an owner, both are refused.
func TestNamesBelongToTheirFirstSource(t *testing.T) {
	files := map[string]string{
		"laiki.yaml":        teamConfig,
		"platform/sp.yaml":  shinyproxy,
		"team-a/zeta.yaml":  app("zeta"),
		"team-b/zeta.yaml":  app("zeta", "  display-name: stolen\n"),
		"team-a/twin.yaml":  app("twin"),
		"team-a/twin2.yaml": app("twin"),
	}
	dir := tree(t, files)
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{"ShinyProxyApp apps/sp/zeta": "team-a", "ShinyProxyApp apps/sp/twin": "team-a"}
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Owners: owners})
	if err != nil {
		t.Fatal(err)
	}
	has(t, res, finding.Error, "team-b/zeta.yaml", 6, "id zeta of a ShinyProxyApp in target apps/sp belongs to source team-a")
	byFile := func(f string) *pipeline.Resource {
		for _, r := range res.Resources {
			if strings.HasSuffix(r.Doc.File, f) {
				return r
			}
		}
		t.Fatalf("no %s", f)
		return nil
	}
	if !byFile("team-a/zeta.yaml").Accepted || byFile("team-b/zeta.yaml").Accepted {
		t.Errorf("the owner's app stays, the other's is refused:\n%s", dump(res.Findings))
	}
	if len(res.FindingsFor(byFile("team-a/zeta.yaml").Doc)) != 0 {
		t.Errorf("nothing is said against the owner: %s", dump(res.FindingsFor(byFile("team-a/zeta.yaml").Doc)))
	}
	if byFile("team-a/twin.yaml").Accepted || byFile("team-a/twin2.yaml").Accepted {
		t.Error("a duplicate inside one source is one")
	}
	// Without an owner (laiki check), both claims are refused.
	res = run(t, dir)
	if byFile := res.Resources; len(byFile) == 0 {
		t.Fatal("no resources")
	}
	for _, r := range res.Resources {
		if r.ID == "zeta" && r.Accepted {
			t.Errorf("%s: with no owner known, a contested id is refused", r.Doc.File)
		}
	}
}

// Team B cannot take team A's Crane data repository by naming it: the
// repository goes to the app whose id it is named after (or, with the
// reconcile loop's memory, to the source that had it first), whatever the
// ids sort like; team B's app is left out with an error, and Crane's
// configuration keeps team A's access.
func TestCraneRepositoryNotTakenByName(t *testing.T) {
	crane := "laiki-metadata:\n  target-type: Crane\n  name: crane\n  namespace: apps\nlaiki-spec:\n  app:\n    storage-location: /srv/crane/\n" +
		"  laiki-storage:\n    kubernetes:\n      persistent-volume-claim: crane-data\n"
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":          teamConfig,
		"platform/sp.yaml":    shinyproxy,
		"platform/crane.yaml": crane,
		"team-a/zeta.yaml":    app("zeta", "  crane-data-repository:\n    mount-read-only: true\n    read-access: {groups: [team-a]}\n"),
		"team-b/aaa.yaml": app("aaa", "  crane-data-repository:\n    name: zeta\n    mount-read-only: false\n",
			"    read-access: {groups: [team-b]}\n    write-access: {groups: [team-b]}\n"),
	}))
	desired := workflowRender(res)
	has(t, res, finding.Error, "team-b/aaa.yaml", 8, "Crane repository zeta already belongs to ShinyProxyApp apps/sp/zeta")
	if !resource(t, res, "zeta").Accepted || resource(t, res, "aaa").Accepted {
		t.Errorf("zeta keeps its repository, aaa is refused:\n%s", dump(res.Findings))
	}
	if !strings.Contains(desired, "team-a") || strings.Contains(desired, "team-b") {
		t.Errorf("Crane's configuration must grant team-a only:\n%s", desired)
	}
}

// workflowRender renders a run (its workflow findings join the run's) and
// gives the Crane configuration as JSON.
func workflowRender(res *pipeline.Result) string {
	desired := workflow.RenderAndJudge(res)
	var out []string
	for _, tg := range desired.Targets {
		if tg.TargetType == "Crane" {
			b, _ := json.Marshal(tg.Config)
			out = append(out, string(b))
		}
	}
	return strings.Join(out, "\n")
}

// Final ECR names are unique across every target and prefix: target sp-a
// (prefix apps/team-a) and target sp-b (prefix apps/) would both make
// apps/team-a/zeta. With no owner known both are refused before any call;
// with the reconcile loop's memory the owner's stands.
func TestEcrNamesUniqueAcrossTargets(t *testing.T) {
	target := func(name, prefix string) string {
		return "laiki-metadata:\n  target-type: ShinyProxy\n  name: " + name + "\n  namespace: apps\nlaiki-spec:\n  proxy: {title: Apps}\n  laiki-ecr:\n    name-prefix: " + prefix + "\n"
	}
	ecr := func(targetName, name string) string {
		return "laiki-metadata:\n  resource-type: AwsEcrRepository\n  target-name: " + targetName + "\n  target-namespace: apps\nlaiki-spec:\n  name: " + name + "\n"
	}
	dir := tree(t, map[string]string{
		"laiki.yaml":         strings.Replace(teamConfig, "      resource-types: [ShinyProxyApp]\n", "", 1),
		"platform/sp.yaml":   target("sp-a", "apps/team-a") + "---\n" + target("sp-b", "apps/"),
		"team-a/zeta.yaml":   ecr("sp-a", "zeta"),
		"team-b/stolen.yaml": ecr("sp-b", "team-a/zeta"),
	})
	names := func(owners map[string]string) (map[string]string, *pipeline.Result) {
		cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg, Owners: owners})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, x := range workflow.RenderAndJudge(res).External {
			out[x.Name] = x.Source
		}
		return out, res
	}
	got, res := names(nil)
	if len(got) != 0 {
		t.Errorf("with no owner, neither may make apps/team-a/zeta: %v", got)
	}
	has(t, res, finding.Error, "team-b/stolen.yaml", 5, "AwsEcrRepository apps/team-a/zeta would also be made for")
	has(t, res, finding.Error, "team-a/zeta.yaml", 5, "AwsEcrRepository apps/team-a/zeta would also be made for")
	got, _ = names(map[string]string{"AwsEcrRepository apps/sp-a/zeta": "team-a"})
	if len(got) != 1 || got["apps/team-a/zeta"] != "team-a" {
		t.Errorf("the owner's stands: %v", got)
	}
}

// What a team source brings over its budget is refused at the offending
// file or document, and every other source still gets in.
func TestBudgets(t *testing.T) {
	big := app("big", "  container-env:\n")
	for i := 0; i < 200; i++ {
		big += "    VAR_" + strings.Repeat("X", 10) + "_" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": value\n"
	}
	cfg := teamConfig + "budgets:\n  file-bytes: 4000\n  resources-per-target: 2\n  spec-bytes-per-target: 100000\n"
	cfg = strings.Replace(cfg, "  - name: team-b\n    path: team-b\n", "  - name: team-b\n    path: team-b\n    budget: {resources-per-target: 5}\n", 1)
	res := run(t, tree(t, map[string]string{
		"laiki.yaml":       cfg,
		"platform/sp.yaml": shinyproxy,
		"team-a/a1.yaml":   app("a1"),
		"team-a/a2.yaml":   app("a2"),
		"team-a/a3.yaml":   app("a3"),
		"team-a/big.yaml":  big,
		"team-b/b1.yaml":   app("b1"),
		"team-b/b2.yaml":   app("b2"),
		"team-b/b3.yaml":   app("b3"),
	}))
	has(t, res, finding.Error, "team-a/big.yaml", 1, "over the budget of 4000 bytes a file")
	has(t, res, finding.Error, "team-a/a3.yaml", 1, "it is resource 3 of source team-a in target apps/sp, over the budget of 2")
	for id, want := range map[string]bool{"a1": true, "a2": true, "a3": false, "big": false, "b1": true, "b2": true, "b3": true} {
		for _, r := range res.Resources {
			if strings.HasSuffix(r.Doc.File, "/"+id+".yaml") && r.Accepted != want {
				t.Errorf("%s accepted %v, want %v:\n%s", id, r.Accepted, want, dump(res.FindingsFor(r.Doc)))
			}
		}
	}
}

// Sources without a budget (the platform's) can still grow an object past
// what the API server takes: that is said at the target, before any apply.
func TestOversizedObjectSaid(t *testing.T) {
	files := map[string]string{"laiki.yaml": teamConfig, "team-a/.keep": "", "team-b/.keep": "", "platform/sp.yaml": shinyproxy}
	for f := 0; f < 3; f++ {
		var b strings.Builder
		b.WriteString(app("p" + string(rune('a'+f))))
		b.WriteString("  container-env:\n")
		for i := 0; i < 12000; i++ {
			b.WriteString("    V" + strings.Repeat("x", 10) + string(rune('a'+i%26)) + string(rune('a'+(i/26)%26)) + string(rune('a'+i/676)) + ": " + strings.Repeat("v", 20) + "\n")
		}
		files["platform/p"+string(rune('a'+f))+".yaml"] = b.String()
	}
	res := run(t, tree(t, files))
	workflowRender(res)
	has(t, res, finding.Error, "platform/sp.yaml", 1, "more than the API server takes")
}
