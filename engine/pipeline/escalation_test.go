package pipeline_test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/test/attack"
)

// Every way a team source could reach platform power, each on its own, each
// refused: the finding names what was refused, the offending document takes
// no effect, and the team's clean app beside it is still accepted.
func TestEscalationRefused(t *testing.T) {
	appWith := func(id, extra string) string { return app(id, extra) }
	for name, tc := range map[string]struct {
		files map[string]string // team-a's files, besides a clean app
		file  string            // where the refusal is
		want  string            // part of its message
		// check, when set, says more about the run.
		check func(t *testing.T, r runResult)
	}{
		"pod patches":            {files: map[string]string{"x.yaml": appWith("x", "  kubernetes-pod-patches: |\n    - op: add\n      path: /spec/hostNetwork\n      value: true\n")}, file: "x.yaml", want: "kubernetes-pod-patches is a platform-level setting"},
		"authorized pod patches": {files: map[string]string{"x.yaml": appWith("x", "  kubernetes-authorized-pod-patches:\n    - {op: add, path: /spec/hostPID, value: true}\n")}, file: "x.yaml", want: "platform-level setting"},
		"extra manifests":        {files: map[string]string{"x.yaml": appWith("x", "  kubernetes-additional-manifests:\n    - |\n      kind: ClusterRoleBinding\n")}, file: "x.yaml", want: "kubernetes-additional-manifests is a platform-level setting"},
		"persistent manifests":   {files: map[string]string{"x.yaml": appWith("x", "  kubernetes-additional-persistent-manifests: [x]\n")}, file: "x.yaml", want: "platform-level setting"},
		"host path volume":       {files: map[string]string{"x.yaml": appWith("x", "  container-volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n")}, file: "x.yaml", want: "mounts a directory of the node"},
		"host path, relative":    {files: map[string]string{"x.yaml": appWith("x", "  container-volumes: [\"../../etc:/etc\"]\n")}, file: "x.yaml", want: "mounts a directory of the node"},
		"privileged":             {files: map[string]string{"x.yaml": appWith("x", "  container-privileged: true\n")}, file: "x.yaml", want: "privileged containers have root on the node"},
		"host network":           {files: map[string]string{"x.yaml": appWith("x", "  container-network: host\n")}, file: "x.yaml", want: "container-network is a platform-level setting"},
		"docker runtime":         {files: map[string]string{"x.yaml": appWith("x", "  docker-runtime: runc-unconfined\n")}, file: "x.yaml", want: "platform-level setting"},
		"docker user root":       {files: map[string]string{"x.yaml": appWith("x", "  docker-user: root\n")}, file: "x.yaml", want: "platform-level setting"},
		"another team's namespace": {
			files: map[string]string{"x.yaml": strings.ReplaceAll(app("x"), "target-namespace: apps", "target-namespace: other")},
			file:  "x.yaml", want: "may not bind resources to namespace other"},
		"a resource type not allowed": {
			files: map[string]string{"x.yaml": "laiki-metadata:\n  resource-type: AwsEcrRepository\n  target-name: sp\n  target-namespace: apps\nlaiki-spec:\n  name: stolen\n"},
			file:  "x.yaml", want: "may not declare AwsEcrRepository"},
		"a target of its own": {
			files: map[string]string{"x.yaml": strings.ReplaceAll(shinyproxy, "name: sp", "name: mine")},
			file:  "x.yaml", want: "may not declare a target",
			check: func(t *testing.T, r runResult) {
				if len(r.res.Targets) != 1 {
					t.Errorf("targets %d: a team's target must not take effect", len(r.res.Targets))
				}
			}},
		"a pre-processor of its own": {
			files: map[string]string{"x.yaml": strings.ReplaceAll(defaults, "container-privileged: false", "container-privileged: true")},
			file:  "x.yaml", want: "may not declare a pre-processor",
			check: func(t *testing.T, r runResult) {
				if len(r.res.PreProcessors) != 0 {
					t.Error("a team's pre-processor must not take effect")
				}
			}},
		"a policy of its own": {
			files: map[string]string{"allow-all.rego": "package laiki.governance.baseline\n\nenabled := false\n"},
			file:  "allow-all.rego", want: "may not bring Rego policies"},
		"a pre-processor policy of its own": {
			files: map[string]string{"pp.rego": "package laiki.preprocessors.Mine\n\nspec := object.union(input[\"laiki-spec\"], {\"container-privileged\": true})\n"},
			file:  "pp.rego", want: "may not bring Rego policies"},
		"another team's app id": {
			files: map[string]string{"x.yaml": app("b-owned")},
			file:  "x.yaml", want: "declared more than once",
			check: func(t *testing.T, r runResult) {
				// Neither declaration wins; the operator keeps the owner's
				// last accepted version running (Hold), see the reconcile tests.
				for _, res := range r.res.Resources {
					if res.ID == "b-owned" && res.Accepted {
						t.Errorf("%s: a contested id must not be accepted", res.Doc.File)
					}
				}
			}},
		"a YAML tag to smuggle a type": {
			files: map[string]string{"x.yaml": appWith("x", "  container-privileged: !!str true\n")},
			file:  "x.yaml", want: "container-privileged must be true or false"},
		"a merge key to pull platform settings": {
			files: map[string]string{"x.yaml": appWith("x", "  extra: &b {kubernetes-pod-patches: x}\n  <<: *b\n")},
			file:  "x.yaml", want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"laiki.yaml": teamConfig, "platform/sp.yaml": shinyproxy, "team-a/clean.yaml": app("clean"),
				"team-b/owned.yaml": app("b-owned")}
			for f, text := range tc.files {
				files["team-a/"+f] = text
			}
			r := runResult{res: run(t, tree(t, files))}
			var found bool
			for _, f := range r.res.Findings {
				if f.Severity.Blocking() && strings.HasSuffix(f.File, "team-a/"+tc.file) && strings.Contains(f.Message, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no refusal at team-a/%s containing %q:\n%s", tc.file, tc.want, dump(r.res.Findings))
			}
			for _, res := range r.res.Resources {
				if strings.HasSuffix(res.Doc.File, "team-a/"+tc.file) && res.Accepted {
					t.Errorf("%s was accepted", res.Key())
				}
			}
			if !resource(t, r.res, "clean").Accepted {
				t.Error("the team's clean app must still be accepted")
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

type runResult struct{ res *pipeline.Result }

// Names that would become object names or paths: "../", 300 characters,
// characters Kubernetes forbids. Each is refused with a clear message at
// its line, before it reaches a workflow.
func TestHostileNames(t *testing.T) {
	long := strings.Repeat("x", 300)
	files := map[string]string{
		"laiki.yaml":       teamConfig,
		"team-b/.keep":     "",
		"platform/sp.yaml": shinyproxy,
		"platform/bad-targets.yaml": strings.ReplaceAll(shinyproxy, "name: sp", "name: ../../etc") + "---\n" +
			strings.ReplaceAll(shinyproxy, "name: sp", "name: "+long) + "---\n" +
			strings.ReplaceAll(shinyproxy, "namespace: apps", "namespace: a/b"),
		"platform/bad-pp.yaml": strings.ReplaceAll(defaults, "name: defaults", "name: ../x"),
		"team-a/ids.yaml":      app("../../passwd") + "---\n" + app(long) + "---\n" + app("with/slash") + "---\n" + app("-dash-first"),
	}
	res := run(t, tree(t, files))
	for _, want := range []struct {
		file string
		line int
		msg  string
	}{
		{"platform/bad-targets.yaml", 3, `name "../../etc" is not a name`},
		{"platform/bad-targets.yaml", 11, "(300 here)"},
		{"platform/bad-targets.yaml", 20, `namespace "a/b" is not a name`},
		{"platform/bad-pp.yaml", 3, `name "../x" is not a name`},
		{"team-a/ids.yaml", 6, `"../../passwd" is not a valid app id`},
		{"team-a/ids.yaml", 14, "is not a valid app id"},
		{"team-a/ids.yaml", 22, `"with/slash" is not a valid app id`},
		{"team-a/ids.yaml", 30, `"-dash-first" is not a valid app id`},
	} {
		has(t, res, "error", want.file, want.line, want.msg)
	}
	if len(res.Targets) != 1 {
		t.Errorf("only the well-named target may be used: %d targets", len(res.Targets))
	}
	// A platform pre-processor in error holds back what it applies to.
	for _, pp := range res.PreProcessors {
		if !res.InError(pp) {
			t.Errorf("pre-processor %s is not in error", pp.Name)
		}
	}
	for _, r := range res.Resources {
		if r.Accepted {
			t.Errorf("%s accepted", r.Doc.File)
		}
	}
}

// Every platform-only key, container-privileged and host-path volumes, in
// every spelling ShinyProxy binds, is refused from a team and still works
// from the platform; and a Spring expression or property placeholder in
// every string-valued key of a team's app is refused, and works from the
// platform.
func TestEscalationBySpellingAndExpression(t *testing.T) {
	keys := attack.PlatformKeys
	files := map[string]string{"laiki.yaml": teamConfig, "team-b/.keep": "", "platform/sp.yaml": shinyproxy}
	type tcase struct{ id, key, want string }
	var cases []tcase
	n := 0
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		for _, spelt := range attack.Spellings(key) {
			n++
			id := "k" + itoa(n)
			files["team-a/"+id+".yaml"] = app(id, "  "+spelt+": "+keys[key]+"\n")
			files["platform/"+id+".yaml"] = app("p"+id, "  "+spelt+": "+keys[key]+"\n")
			cases = append(cases, tcase{id, spelt, key})
		}
	}
	// Expressions, in every key whose value is or holds a string.
	for _, e := range attack.Expressions() {
		key, value := e.Key, e.Value
		n++
		id := "e" + itoa(n)
		if key == "container-image" {
			files["team-a/"+id+".yaml"] = strings.Replace(app(id), "  container-image: registry.example.com/team/"+id+":1\n", "  container-image: "+value+"\n", 1)
			files["platform/"+id+".yaml"] = strings.Replace(app("p"+id), "  container-image: registry.example.com/team/p"+id+":1\n", "  container-image: "+value+"\n", 1)
		} else {
			files["team-a/"+id+".yaml"] = app(id, "  "+key+": "+value+"\n")
			files["platform/"+id+".yaml"] = app("p"+id, "  "+key+": "+value+"\n")
		}
		cases = append(cases, tcase{id, key, attack.ExpressionRefused})
	}
	res := run(t, tree(t, files))
	for _, c := range cases {
		team, platform := resource(t, res, c.id), resource(t, res, "p"+c.id)
		refused := false
		for _, f := range res.FindingsFor(team.Doc) {
			if f.Severity.Blocking() && (strings.Contains(f.Message, c.want) || strings.Contains(f.Message, "privileged") || strings.Contains(f.Message, "mounts a directory")) {
				refused = true
			}
		}
		if team.Accepted || !refused {
			t.Errorf("%s from a team: accepted %v, want a refusal about %s:\n%s", c.key, team.Accepted, c.want, dump(res.FindingsFor(team.Doc)))
		}
		if !platform.Accepted {
			t.Errorf("%s from the platform must still work:\n%s", c.key, dump(res.FindingsFor(platform.Doc)))
		}
	}
	if !t.Failed() {
		t.Logf("%d spellings and expressions refused from a team", len(cases))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
