package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tagsRule = "package laiki.governance.tags\n\ndeny contains {\"msg\": \"pin a version, not latest\", \"field\": [\"container-image\"]} if {\n\tendswith(input[\"laiki-spec\"][\"container-image\"], \":latest\")\n}\n"

const tagsTest = "package laiki.governance.tags_test\n\nimport data.laiki.governance.tags\n\ntest_latest_denied if {\n\tcount(tags.deny) == 1 with input as {\"laiki-spec\": {\"container-image\": \"a:latest\"}}\n}\n"

// laiki policy test: the built-in tests pass with coverage reported; the
// platform's run beside them; exit codes are opa test's.
func TestPolicyTest(t *testing.T) {
	r := laikiRun(t, repo, nil, "policy", "test", "--config", "examples/laiki.yaml", "--coverage")
	if r.code != 0 || !strings.Contains(r.stdout, "PASS: ") || !strings.Contains(r.stdout, "policies/governance/baseline.rego") || !strings.Contains(r.stdout, "total") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	write(t, dir, map[string]string{"p/tags.rego": tagsRule, "p/tags_test.rego": tagsTest})
	r = laikiRun(t, dir, nil, "policy", "test", "p", "--run", "tags", "-v")
	if r.code != 0 || !strings.Contains(r.stdout, "test_latest_denied: PASS") || strings.Contains(r.stdout, "baseline") {
		t.Errorf("--run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiRun(t, dir, nil, "policy", "test", "p", "--format", "json", "--coverage")
	var out struct {
		Results  []map[string]any `json:"results"`
		Coverage struct {
			Files map[string]any `json:"files"`
		} `json:"coverage"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || out.Coverage.Files["p/tags.rego"] == nil || len(out.Results) < 10 {
		t.Errorf("json: exit %d, %v\n%s", r.code, err, r.stdout)
	}

	write(t, dir, map[string]string{"p/tags_test.rego": strings.Replace(tagsTest, "== 1", "== 2", 1)})
	if r := laikiRun(t, dir, nil, "policy", "test", "p"); r.code != 2 || !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("a failing test: exit %d, want 2\n%s", r.code, r.stdout)
	}
	write(t, dir, map[string]string{"p/tags.rego": tagsRule + "\ndeny contains x if {\n\tx := http.send({\"url\": \"http://127.0.0.1:1\", \"method\": \"GET\"})\n}\n"})
	if r := laikiRun(t, dir, nil, "policy", "test", "p"); r.code != 1 || !strings.Contains(r.stderr, "p/tags.rego:8") {
		t.Errorf("http.send: exit %d, want 1 with the line\n%s", r.code, r.stderr)
	}
	if r := laikiRun(t, dir, nil, "policy", "test", "p", "--threshold", "101"); r.code != 1 {
		t.Errorf("threshold above 100 with a broken policy: exit %d", r.code)
	}
}

// laiki policy eval: which rule fired, where, with what message; a new file
// is judged as the source whose directory holds it.
func TestPolicyEval(t *testing.T) {
	dir := t.TempDir()
	platform := filepath.Join(repo, design, "platform")
	write(t, dir, map[string]string{
		"laiki.yaml":      "sources:\n  - {name: platform, path: " + platform + ", role: platform}\n  - {name: rules, path: rules, role: platform}\n  - {name: team, path: apps, allow: {target-namespaces: [ShinyProxy]}}\n",
		"rules/tags.rego": tagsRule,
		"apps/ok.yaml":    app("ok"),
	})
	latest := strings.Replace(app("latest"), ":1", ":latest", 1)
	if err := os.WriteFile(filepath.Join(dir, "apps", "latest.yaml"), []byte(latest), 0o644); err != nil {
		t.Fatal(err)
	}
	r := laikiRun(t, dir, nil, "policy", "eval", "apps/latest.yaml", "--explain", "fails", "--input")
	if r.code != 1 || !strings.Contains(r.stdout, "DENY  laiki.governance.tags.deny fired at rules/tags.rego:3:1: pin a version, not latest (at container-image)") ||
		!strings.Contains(r.stdout, "pre-processor ShinyProxyAppDefaultsPreProcessor") || !strings.Contains(r.stdout, `"laiki-source"`) || !strings.Contains(r.stdout, "rejected by policies ") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiRun(t, dir, nil, "policy", "eval", "apps/ok.yaml", "-o", "json")
	var evals []struct {
		Accepted bool `json:"accepted"`
		Policies struct {
			Revision string
			Rules    []struct {
				Rule    string
				Firings []any
			}
		} `json:"policies"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &evals); err != nil || r.code != 0 || len(evals) != 1 || !evals[0].Accepted || evals[0].Policies.Revision == "" {
		t.Errorf("json: exit %d %v\n%s", r.code, err, r.stdout)
	}
	// A file no source holds needs --source.
	write(t, dir, map[string]string{"elsewhere/new.yaml": latest})
	if r := laikiRun(t, dir, nil, "policy", "eval", "elsewhere/new.yaml"); r.code != 2 || !strings.Contains(r.stderr, "--source") {
		t.Errorf("no source: exit %d\n%s", r.code, r.stderr)
	}
	if r := laikiRun(t, dir, nil, "policy", "eval", "--source", "team", "elsewhere/new.yaml"); r.code != 1 || !strings.Contains(r.stdout, "fired at rules/tags.rego:3") {
		t.Errorf("--source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// laiki schema writes one schema per kind and laiki.json.
func TestSchema(t *testing.T) {
	out := t.TempDir()
	r := laikiRun(t, repo, nil, "schema", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"laiki", "ShinyProxyApp", "AwsEcrRepository", "ShinyProxy", "PrePuller", "Crane", "PreProcessor"} {
		b, err := os.ReadFile(filepath.Join(out, name+".json"))
		var v map[string]any
		if err != nil || json.Unmarshal(b, &v) != nil || v["$schema"] == nil {
			t.Errorf("%s.json: %v", name, err)
		}
	}
	if r := laikiRun(t, repo, nil, "schema", "ShinyProxyAp"); r.code != 2 || !strings.Contains(r.stderr, "ShinyProxyApp") {
		t.Errorf("unknown type: exit %d %s", r.code, r.stderr)
	}
}

// A platform policy the engine would never evaluate (conftest's package
// main, a misspelt package) is refused out loud by check, policy test and
// policy eval; each says how many policies it evaluated.
func TestUnevaluatedPolicyRefusedOutLoud(t *testing.T) {
	dir := t.TempDir()
	platform := filepath.Join(repo, design, "platform")
	write(t, dir, map[string]string{
		"laiki.yaml":      "sources:\n  - {name: platform, path: " + platform + ", role: platform}\n  - {name: rules, path: rules, role: platform}\n  - {name: team, path: apps, allow: {target-namespaces: [ShinyProxy]}}\n",
		"rules/tags.rego": tagsRule,
		"apps/ok.yaml":    app("ok"),
	})
	r := laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-v")
	if r.code != 0 || !strings.Contains(r.stderr, "3 governance rule sets (5 rules) and 1 pre-processor evaluated") {
		t.Errorf("check -v must count the policies: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, text := range map[string]string{
		"conftest's main": "package main\n\ndeny contains \"no\" if true\n",
		"a typo":          "package laiki.goverance.registry\n\ndeny contains \"no\" if true\n",
	} {
		write(t, dir, map[string]string{"rules/extra.rego": text})
		for _, args := range [][]string{{"check", "--config", "laiki.yaml"}, {"policy", "test", "--config", "laiki.yaml"}, {"policy", "eval", "--config", "laiki.yaml", "apps/ok.yaml"}} {
			r := laikiRun(t, dir, nil, args...)
			want := 2
			if args[0] == "policy" && args[1] == "test" {
				want = 1 // as opa test: does not compile
			}
			if r.code != want || !strings.Contains(r.stderr, "rules/extra.rego:1:1: package") || !strings.Contains(r.stderr, "would never be evaluated") {
				t.Errorf("%s, laiki %s: exit %d, want %d and the package line\n%s%s", name, strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
			}
		}
	}
	os.Remove(filepath.Join(dir, "rules", "extra.rego"))
	r = laikiRun(t, dir, nil, "policy", "test", "--config", "laiki.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "policies: 3 governance rule sets (5 rules) and 1 pre-processor evaluated") {
		t.Errorf("policy test must count the policies: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = laikiRun(t, dir, nil, "policy", "eval", "--config", "laiki.yaml", "apps/ok.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "policies: 3 governance rule sets (5 rules) and 1 pre-processor evaluated") {
		t.Errorf("policy eval must count the policies: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// laiki policy test -o json stays small (traces only with -v, as opa
// test), the coverage threshold is the platform's policies' (the built-ins
// do not lift a poorly tested set), and a threshold is a percentage.
func TestPolicyTestJSONAndThreshold(t *testing.T) {
	dir := t.TempDir()
	// A rule file with an untested second rule: about half covered.
	rule := tagsRule + "\ndeny contains \"no big images\" if {\n\tcontains(input[\"laiki-spec\"][\"container-image\"], \"big\")\n}\n"
	write(t, dir, map[string]string{"p/tags.rego": rule, "p/tags_test.rego": tagsTest})
	r := laikiRun(t, dir, nil, "policy", "test", "p", "-o", "json")
	if r.code != 0 || strings.Contains(r.stdout, `"trace"`) || len(r.stdout) > 200_000 {
		t.Errorf("json without -v: exit %d, %d bytes, traces %v", r.code, len(r.stdout), strings.Contains(r.stdout, `"trace"`))
	}
	if r := laikiRun(t, dir, nil, "policy", "test", "p", "--threshold", "95"); r.code != 2 || !strings.Contains(r.stderr, "coverage of the platform's policies") {
		t.Errorf("a platform set under the threshold must fail (exit 2), whatever the built-ins' coverage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := laikiRun(t, dir, nil, "policy", "test", "p", "--threshold", "150"); r.code != 1 || !strings.Contains(r.stderr, "from 0 to 100") {
		t.Errorf("--threshold 150: exit %d, want 1\n%s", r.code, r.stderr)
	}
}
