package policy

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// Pre-processors that give what one evaluation cannot pass on as Go would
// (a set, 1.0, a number key), that fail, or that give no spec; one that
// reads what the one before it gave; and governance rules that read the
// pre-processors' spec and list.
const evaluateRules = `package laiki.preprocessors.Tags

spec := object.union(input["laiki-spec"], {"tags": {"a", "b"}}) if input.parameters.set

else := object.union(input["laiki-spec"], {"ratio": 1.0}) if input.parameters.float

else := object.union(input["laiki-spec"], {"odd": {1: "one"}}) if input.parameters.numberkey

else := object.union(input["laiki-spec"], {"big": 1e3}) if input.parameters.exponent

else := object.union(input["laiki-spec"], {"ratio": 0.25, "count": 3, "tags": ["a", "b"]})

warn contains {"msg": "tagged", "field": ["tags"]} if input.parameters.warn

changes contains {"field": ["laiki-spec", "tags"], "rule": "tags"}
`

const evaluateRules2 = `package laiki.preprocessors.Second

spec := object.union(input["laiki-spec"], {"seen": object.get(input["laiki-spec"], "tags", [])}) if not input.parameters.nospec

spec := 1 if input.parameters.conflict

spec := 2 if input.parameters.conflict
`

const evaluateGovernance = `package laiki.governance.evaluate

deny contains sprintf("ratio %v", [input["laiki-spec"].ratio]) if input["laiki-spec"].ratio

warn contains sprintf("%d pre-processors, count %v", [count(input["laiki-preprocessors"]), object.get(input["laiki-spec"], "count", 0)])

deny_odd contains "odd" if input["laiki-spec"].odd[1]

deny_set contains "a set" if is_set(input["laiki-spec"].tags)
`

func TestEvaluateIsPreProcessThenGovern(t *testing.T) {
	ctx := context.Background()
	p, err := Compile(ctx, []Module{{File: "tags.rego", Text: []byte(evaluateRules)}, {File: "second.rego", Text: []byte(evaluateRules2)},
		{File: "gov.rego", Text: []byte(evaluateGovernance)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := parseOne(t, "team", "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\n"+
		"laiki-spec:\n  id: a\n  container-image: r/a:1\n  container-env: {A: b}\n  max-instances: 2\n  share: 0.5\n")
	pp := func(typ, params string) *document.Document {
		return parseOne(t, "platform", "laiki-metadata:\n  pre-processor-name: "+typ+"\n  name: "+typ+"\n  target-namespace: ns\nlaiki-spec:\n"+params)
	}
	defaults := pp("ShinyProxyAppDefaultsPreProcessor", "  fallback: {container-memory-limit: 1Gi, container-cpu-request: 0.5}\n  override: {max-instances: 3}\n  append: {container-env: {A: c}}\n")
	cases := []struct {
		name     string
		pps      []*document.Document
		combined bool // one evaluation said it all
	}{
		{"defaults", []*document.Document{defaults}, true},
		{"two", []*document.Document{defaults, pp("Tags", "  warn: true\n")}, true},
		{"three", []*document.Document{defaults, pp("Tags", "  {}\n"), pp("Second", "  {}\n")}, true},
		{"set", []*document.Document{pp("Tags", "  set: true\n")}, false},
		{"set passed on", []*document.Document{pp("Tags", "  set: true\n"), pp("Second", "  {}\n")}, false},
		{"1.0", []*document.Document{pp("Tags", "  float: true\n")}, false},
		{"number key", []*document.Document{pp("Tags", "  numberkey: true\n")}, false},
		{"1e3", []*document.Document{pp("Tags", "  exponent: true\n")}, false},
		{"no spec", []*document.Document{defaults, pp("Second", "  nospec: true\n")}, false},
		{"conflict", []*document.Document{pp("Second", "  conflict: true\n")}, false},
		{"unknown", []*document.Document{pp("Nope", "  {}\n")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, fs, changes := p.PreProcess(ctx, app, c.pps)
			if !finding.AnyBlocking(fs) {
				fs = append(fs, p.Govern(ctx, app, spec, c.pps)...)
			}
			e := p.Evaluate(ctx, app, c.pps, true)
			got := e.Findings
			if !finding.AnyBlocking(got) {
				got = append(got, e.Govern(ctx, false)...)
			}
			if e.judged != c.combined {
				t.Errorf("one evaluation: %v, want %v", e.judged, c.combined)
			}
			if !reflect.DeepEqual(e.Spec, spec) {
				t.Errorf("spec:\n%#v\nwant\n%#v", e.Spec, spec)
			}
			if !reflect.DeepEqual(e.Changes, changes) {
				t.Errorf("changes:\n%v\nwant\n%v", e.Changes, changes)
			}
			if !reflect.DeepEqual(got, fs) {
				t.Errorf("findings:\n%v\nwant\n%v", got, fs)
			}
			if len(fs) == 0 {
				t.Error("no findings to compare")
			}
		})
	}
}

// A policy that loops is stopped, with the same finding as PreProcess and
// Govern give, after one evaluation's limit more.
func TestEvaluateStopsALoop(t *testing.T) {
	ctx := context.Background()
	loop := `package laiki.governance.loop

deny contains "never" if {
	some i in numbers.range(1, 100000000)
	i < 0
}
`
	p, err := Compile(ctx, []Module{{File: "loop.rego", Text: []byte(loop)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p = p.WithTimeout(100 * time.Millisecond)
	app := parseOne(t, "team", "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: sp\n  target-namespace: ns\nlaiki-spec:\n  id: a\n")
	defaults := parseOne(t, "platform", "laiki-metadata:\n  pre-processor-name: ShinyProxyAppDefaultsPreProcessor\n  name: d\n  target-namespace: ns\nlaiki-spec:\n  fallback: {port: 1}\n")
	pps := []*document.Document{defaults}
	spec, _, _ := p.PreProcess(ctx, app, pps)
	want := p.Govern(ctx, app, spec, pps)
	e := p.Evaluate(ctx, app, pps, true)
	got := e.Govern(ctx, false)
	if e.judged || !reflect.DeepEqual(got, want) || len(want) != 1 {
		t.Errorf("got %v (one evaluation: %v), want %v", got, e.judged, want)
	}
}

func parseOne(t *testing.T, role, text string) *document.Document {
	t.Helper()
	res := document.Parse(document.SourceRef{Name: role, Role: role}, role+".yaml", []byte(text), document.DefaultLimits)
	if len(res.Documents) != 1 || res.Documents[0].Broken {
		t.Fatalf("%s: %v %v", text, res.Findings, res.ByDocument)
	}
	return res.Documents[0]
}
