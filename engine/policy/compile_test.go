package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/policy"
)

// Compile's steps, seen from outside: the revision names the modules and
// the policy-data, a pre-processor must have a spec rule, and the inventory
// counts what the generated collector gathers.
func TestCompileRevisionNamesModulesAndData(t *testing.T) {
	ctx := context.Background()
	compile := func(platform []policy.Module, config map[string]any) string {
		t.Helper()
		p, err := policy.Compile(ctx, platform, config)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Revision) != 16 {
			t.Fatalf("revision %q: want 16 hex digits", p.Revision)
		}
		return p.Revision
	}
	base := compile(mods("p/tags.rego", latestRule), nil)
	if again := compile(mods("p/tags.rego", latestRule), nil); again != base {
		t.Errorf("same modules, revisions %s and %s", base, again)
	}
	if other := compile(mods("p/tags.rego", latestRule), map[string]any{"baseline": map[string]any{}}); other == base {
		t.Error("policy-data does not change the revision")
	}
	if other := compile(mods("p/tags.rego", latestRule+"\n"), nil); other == base {
		t.Error("a module's text does not change the revision")
	}
}

func TestCompileRefusesPreProcessorWithoutSpec(t *testing.T) {
	_, err := policy.Compile(context.Background(), mods("p/pp.rego", "package laiki.preprocessors.NoSpec\n\nwarn contains \"w\" if { true }\n"), nil)
	var ce *policy.CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "pre-processor laiki.preprocessors.NoSpec has no `spec` rule") {
		t.Fatalf("got %v, want a CompileError about the missing spec rule", err)
	}
}

func TestCompileInventoryCountsPlatformRules(t *testing.T) {
	ctx := context.Background()
	builtin, err := policy.Compile(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile(ctx, mods("p/tags.rego", latestRule, "p/pp.rego", "package laiki.preprocessors.Tags\n\nspec := input[\"laiki-spec\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Inventory.Rules, builtin.Inventory.Rules+1; got != want { // deny twice is one rule
		t.Errorf("rules %d, want %d", got, want)
	}
	if got, want := len(p.Inventory.Rulesets), len(builtin.Inventory.Rulesets)+1; got != want {
		t.Errorf("rulesets %v, want %d", p.Inventory.Rulesets, want)
	}
	if got, want := len(p.Inventory.PreProcessors), len(builtin.Inventory.PreProcessors)+1; got != want {
		t.Errorf("pre-processors %v, want %d", p.Inventory.PreProcessors, want)
	}
}
