package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/policy"
)

const denyAll = "\ndeny contains \"no\" if true\n"

// A platform policy the engine would never evaluate is refused at its
// package line, by Compile (check, webhook, operator) and by Test (laiki
// policy test), instead of being compiled and silently ignored.
func TestUnevaluatedPolicyRefused(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		files []string
		want  string // "" when the set is fine
	}{
		"conftest's package main": {files: []string{"p/main.rego", "package main" + denyAll},
			want: "p/main.rego:1:1: package main would never be evaluated"},
		"a typo of governance": {files: []string{"p/registry.rego", "package laiki.goverance.registry" + denyAll},
			want: "did you mean package laiki.governance.registry?"},
		"a typo of preprocessors": {files: []string{"p/pp.rego", "package laiki.preprocesors.X\n\nspec := {}\n"},
			want: "did you mean package laiki.preprocessors.X?"},
		"a helper nobody imports": {files: []string{"p/lib.rego", "package lib.images\n\nok(x) if x\n"},
			want: "package lib.images would never be evaluated"},
		"a helper imported by governance": {files: []string{
			"p/lib.rego", "package lib.images\n\nbad(x) if x == \"a\"\n",
			"p/g.rego", "package laiki.governance.g\n\nimport data.lib.images\n\ndeny contains \"bad\" if images.bad(input.x)\n"}},
		"a helper referred to without import": {files: []string{
			"p/lib.rego", "package lib.images\n\nbad(x) if x == \"a\"\n",
			"p/g.rego", "package laiki.governance.g\n\ndeny contains \"bad\" if data.lib.images.bad(input.x)\n"}},
		"a helper of a helper": {files: []string{
			"p/a.rego", "package lib.a\n\nimport data.lib.b\n\nbad(x) if b.bad(x)\n",
			"p/b.rego", "package lib.b\n\nbad(x) if x == \"a\"\n",
			"p/g.rego", "package laiki.governance.g\n\nimport data.lib.a\n\ndeny contains \"bad\" if a.bad(input.x)\n"}},
		"a whole tree referred to": {files: []string{
			"p/b.rego", "package lib.b\n\nbad := true\n",
			"p/g.rego", "package laiki.governance.g\n\ndeny contains \"bad\" if data.lib[_].bad\n"}},
		"a pre-processor's helper package": {files: []string{
			"p/pp.rego", "package laiki.preprocessors.X\n\nimport data.laiki.preprocessors.X.util\n\nspec := util.s\n",
			"p/util.rego", "package laiki.preprocessors.X.util\n\ns := {}\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := policy.Compile(ctx, mods(tc.files...), nil)
			_, terr := policy.Test(ctx, mods(tc.files...), nil, policy.TestOptions{SkipBuiltinTests: true})
			for what, err := range map[string]error{"Compile": err, "Test": terr} {
				if tc.want == "" {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				var ce *policy.CompileError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: want a compile error containing %q, got %v", what, tc.want, err)
				}
			}
		})
	}
}

// A rule of a governance package named like deny, warn or violation but
// none of them never reports: a warning at its line says so.
func TestNearMissRuleNames(t *testing.T) {
	p, err := policy.Compile(context.Background(), mods("p/g.rego", `package laiki.governance.g

denny contains "x" if true

Deny contains "x" if true

warning contains "x" if true

violations contains "x" if true

deny_latest contains "x" if false

helper := 1
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, w := range p.Warnings {
		if w.File != "p/g.rego" {
			t.Errorf("warning at %s", w.Location)
		}
		got[w.Line] = w.Message
	}
	for line, want := range map[int]string{3: "rule denny", 5: "rule Deny", 7: "rule warning", 9: "rule violations"} {
		if !strings.Contains(got[line], want) || !strings.Contains(got[line], "never reports") {
			t.Errorf("line %d: want a warning about %s, got %q", line, want, got[line])
		}
	}
	if len(got) != 4 {
		t.Errorf("only the near misses are warned about: %v", got)
	}
}
