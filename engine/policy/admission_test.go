package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
)

const latestRule = `package laiki.governance.tags

deny contains {"msg": "no latest", "field": ["container-image"]} if {
	endswith(input["laiki-spec"]["container-image"], ":latest")
}

deny contains "no image" if {
	not input["laiki-spec"]["container-image"]
}
`

const latestTest = `package laiki.governance.tags_test

import data.laiki.governance.tags

test_latest_denied if {
	count(tags.deny) == 1 with input as {"laiki-spec": {"container-image": "a:latest"}}
}

test_pinned_allowed if {
	count(tags.deny) == 0 with input as {"laiki-spec": {"container-image": "a:1"}}
}
`

func mods(files ...string) []policy.Module {
	var out []policy.Module
	for i := 0; i < len(files); i += 2 {
		out = append(out, policy.Module{File: files[i], Text: []byte(files[i+1])})
	}
	return out
}

func TestPolicyTestRunsBuiltinAndPlatformTests(t *testing.T) {
	ctx := context.Background()
	report, err := policy.Test(ctx, mods("p/tags.rego", latestRule), mods("p/tags_test.rego", latestTest), policy.TestOptions{Coverage: true})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range report.Results {
		names[r.Name] = true
	}
	if !names["test_latest_denied"] || !names["test_pinned_allowed"] || !names["test_clean_app_passes"] {
		t.Errorf("tests run: %v", names)
	}
	if report.Failed() != 0 {
		t.Errorf("%d failed", report.Failed())
	}
	fr := report.Coverage.Files["p/tags.rego"]
	if fr == nil || fr.Coverage >= 100 || len(fr.NotCovered) == 0 {
		t.Errorf("the `no image` rule is never reached by the tests: coverage %+v", fr)
	}
	if _, ok := report.Coverage.Files["p/tags_test.rego"]; ok {
		t.Error("tests are not counted in the coverage")
	}

	// --run keeps the matching tests only.
	report, err = policy.Test(ctx, mods("p/tags.rego", latestRule), mods("p/tags_test.rego", latestTest), policy.TestOptions{Run: "tags_test.test_pinned"})
	if err != nil || len(report.Results) != 1 || report.Results[0].Name != "test_pinned_allowed" {
		t.Errorf("--run: %v, %v", report, err)
	}

	// A failing test fails.
	failing := strings.Replace(latestTest, `count(tags.deny) == 0`, `count(tags.deny) == 2`, 1)
	report, err = policy.Test(ctx, mods("p/tags.rego", latestRule), mods("p/tags_test.rego", failing), policy.TestOptions{})
	if err != nil || report.Failed() != 1 {
		t.Errorf("want one failure: %v", err)
	}
}

func TestPolicyTestRefusesNetworkAndRunaways(t *testing.T) {
	ctx := context.Background()
	net := `package laiki.governance.net

deny contains "x" if {
	http.send({"method": "GET", "url": "http://127.0.0.1:1"}).status_code == 200
}
`
	_, err := policy.Test(ctx, mods("p/net.rego", net), nil, policy.TestOptions{})
	var ce *policy.CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "p/net.rego:4") || !strings.Contains(err.Error(), "http.send") {
		t.Errorf("http.send must be refused at its line: %v", err)
	}
	if _, err := policy.Compile(ctx, mods("p/net.rego", net), nil); !errors.As(err, &ce) {
		t.Errorf("the engine must refuse it too: %v", err)
	}
	env := "package laiki.governance.env\n\ndeny contains x if {\n\tx := opa.runtime().env.HOME\n}\n"
	if _, err := policy.Compile(ctx, mods("p/env.rego", env), nil); !errors.As(err, &ce) {
		t.Errorf("opa.runtime (the environment) must be refused: %v", err)
	}

	slow := "package laiki.governance.slow_test\n\ntest_slow if {\n\tsome i in numbers.range(1, 1000000000)\n\ti < 0\n}\n"
	start := time.Now()
	report, err := policy.Test(ctx, nil, mods("p/slow_test.rego", slow), policy.TestOptions{Run: "slow", Timeout: 200 * time.Millisecond})
	if err != nil || report.Failed() != 1 || report.Results[0].Error == nil {
		t.Fatalf("a test that runs away must stop with an error: %v %+v", err, report)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("the time limit did not stop it (%s)", time.Since(start))
	}
}

func TestExplainSaysWhichDefinitionFired(t *testing.T) {
	ctx := context.Background()
	p, err := policy.Compile(ctx, mods("p/tags.rego", latestRule), nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed := document.Parse(document.SourceRef{Name: "team", Role: "team"}, "app.yaml",
		[]byte("laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n  id: a\n  container-image: r/a:latest\n"), document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		t.Fatal(parsed.Findings)
	}
	ex, err := p.Explain(ctx, parsed.Documents[0], nil, policy.TraceFails)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Revision != p.Revision || ex.Input["laiki-spec"] == nil {
		t.Errorf("revision %q, input %v", ex.Revision, ex.Input)
	}
	var tags *policy.RuleResult
	for i, r := range ex.Rules {
		if r.Package == "laiki.governance.tags" && r.Rule == "deny" {
			tags = &ex.Rules[i]
		}
	}
	if tags == nil || len(tags.Firings) != 1 {
		t.Fatalf("rules: %+v", ex.Rules)
	}
	f := tags.Firings[0]
	msg, _ := f.Value.(map[string]any)["msg"].(string)
	if f.Location != (finding.Location{File: "p/tags.rego", Line: 3, Column: 1}) || msg != "no latest" || tags.Severity != finding.Deny {
		t.Errorf("firing %+v", f)
	}
	if !strings.Contains(tags.Trace, "Fail") {
		t.Errorf("the fails trace shows the definition that did not hold:\n%s", tags.Trace)
	}
}
