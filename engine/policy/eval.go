package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// Change says which pre-processor, and which of its rules, set a field.
type Change struct {
	Field        []string
	PreProcessor *document.Document
	Rule         string
}

// CheckParameters evaluates a pre-processor's own checks on the parameters
// its document gives (the defaults pre-processor refuses an unknown rule, say).
func (p *Policies) CheckParameters(ctx context.Context, pp *document.Document) []finding.Finding {
	proc, ok := p.preprocessors[pp.Type]
	if !ok || proc.params == nil {
		return nil
	}
	rs, err := p.eval(ctx, *proc.params, map[string]any{"parameters": pp.Spec})
	policy := PreProcessorPackage + "." + pp.Type
	if err != nil {
		return []finding.Finding{evalError(pp, policy, err)}
	}
	var out []finding.Finding
	for _, v := range values(rs) {
		msg, field := message(v)
		out = append(out, finding.Finding{Severity: finding.Error, Location: fieldLocation(pp, field), Message: msg, Policy: policy, Source: pp.Source.Name})
	}
	return out
}

// PreProcess runs the given pre-processors, in order, on a resource's spec and
// returns the changed spec, the findings (warnings, or an error when a
// pre-processor fails) and what each pre-processor changed. The caller picks
// and orders the pre-processors (see pipeline.PreProcessorsFor).
func (p *Policies) PreProcess(ctx context.Context, d *document.Document, pps []*document.Document) (spec any, fs []finding.Finding, changes []Change) {
	spec = d.Spec
	for _, pp := range pps {
		proc, ok := p.preprocessors[pp.Type]
		policy := PreProcessorPackage + "." + pp.Type
		if !ok {
			// The engine holds such a resource back before it gets here.
			fs = append(fs, finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: policy, Source: d.Source.Name,
				Message: fmt.Sprintf("no pre-processor policy %s", pp.Type), Related: []finding.Location{pp.Origin()}})
			return spec, fs, changes
		}
		before := spec
		input := d.Input(spec)
		input["parameters"] = pp.Spec
		rs, err := p.eval(ctx, proc.eval, input)
		if err != nil {
			fs = append(fs, evalError(d, policy, err))
			return spec, fs, changes
		}
		if len(rs) == 0 {
			fs = append(fs, finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: policy, Source: d.Source.Name,
				Message: fmt.Sprintf("pre-processor %s gave no result", pp.Type), Related: []finding.Location{pp.Origin()}})
			return spec, fs, changes
		}
		out, _ := rs[0].Expressions[0].Value.(map[string]any)
		newSpec, ok := out["spec"]
		if !ok {
			fs = append(fs, finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: policy, Source: d.Source.Name,
				Message: fmt.Sprintf("pre-processor %s gave no spec for this resource (is its `spec` rule undefined for it?)", pp.Type), Related: []finding.Location{pp.Origin()}})
			return spec, fs, changes
		}
		spec = Normalize(newSpec)
		f, c := preProcessed(d, pp, before, spec, out["warn"], out["changes"])
		fs, changes = append(fs, f...), append(changes, c...)
	}
	return spec, fs, changes
}

// preProcessed reads what one pre-processor said besides the spec it gave
// (after, from before): its warnings and the fields it changed.
func preProcessed(d, pp *document.Document, before, after, warn, changed any) (fs []finding.Finding, changes []Change) {
	policy := PreProcessorPackage + "." + pp.Type
	for _, w := range asList(warn) {
		msg, field := message(w)
		fs = append(fs, finding.Finding{Severity: finding.Warn, Location: fieldLocation(d, field), Message: msg, Policy: policy,
			Source: d.Source.Name, Field: strings.Join(field, "."), Related: []finding.Location{pp.Origin()}})
	}
	reported := map[string]bool{}
	for _, c := range asList(changed) {
		m, _ := c.(map[string]any)
		rule, _ := m["rule"].(string)
		ch := Change{Field: fieldPath(m["field"]), PreProcessor: pp, Rule: rule}
		if len(ch.Field) > 1 {
			reported[ch.Field[1]] = true
		}
		changes = append(changes, ch)
	}
	// A pre-processor that does not say what it changed still changed
	// it: each top-level key it set or added is its, so that a finding
	// about that key names it rather than the resource's author.
	return fs, append(changes, unreported(before, after, pp, reported)...)
}

// KeyPreProcessors is the input key that lists the pre-processors that ran
// on a resource, for governance: what the platform wrote is told apart
// from what the team wrote.
const KeyPreProcessors = "laiki-preprocessors"

// GovernanceInput is what governance rules see: the resource after its
// pre-processors (laiki-metadata, laiki-spec, laiki-source), and the
// pre-processors that ran, in order, each with its name,
// pre-processor-name and parameters.
func GovernanceInput(d *document.Document, spec any, pps []*document.Document) map[string]any {
	in := d.Input(spec)
	list := make([]any, 0, len(pps))
	for _, pp := range pps {
		list = append(list, map[string]any{"name": pp.Name, "pre-processor-name": pp.Type, "parameters": pp.Spec})
	}
	in[KeyPreProcessors] = list
	return in
}

// unreported lists the top-level keys of after that a pre-processor added or
// changed from before, less those it reported.
func unreported(before, after any, pp *document.Document, reported map[string]bool) []Change {
	prev, _ := before.(map[string]any)
	next, _ := after.(map[string]any)
	var out []Change
	for _, k := range slices.Sorted(maps.Keys(next)) {
		if old, had := prev[k]; !reported[k] && (!had || !reflect.DeepEqual(old, next[k])) {
			out = append(out, Change{Field: []string{document.KeySpec, k}, PreProcessor: pp})
		}
	}
	return out
}

// Govern runs every governance rule on a resource after the pre-processors
// pps, and returns the denials and warnings.
func (p *Policies) Govern(ctx context.Context, d *document.Document, spec any, pps []*document.Document) []finding.Finding {
	rs, err := p.eval(ctx, p.governance, GovernanceInput(d, spec, pps))
	if err != nil {
		return []finding.Finding{evalError(d, GovernancePackage, err)}
	}
	if len(rs) == 0 {
		return nil
	}
	results, _ := rs[0].Expressions[0].Value.(map[string]any)
	return governed(d, results)
}

// governed reads the governance rules' values (by "package|rule") as
// findings.
func governed(d *document.Document, results map[string]any) []finding.Finding {
	var out []finding.Finding
	for _, key := range slices.Sorted(maps.Keys(results)) {
		pkg, rule, _ := strings.Cut(key, "|")
		sev := finding.Deny
		if strings.HasPrefix(rule, "warn") {
			sev = finding.Warn
		}
		policy := pkg
		if rule != "deny" && rule != "warn" && rule != "violation" {
			policy = pkg + "." + rule
		}
		var msgs []any
		switch v := results[key].(type) {
		case bool:
			if v {
				msgs = []any{fmt.Sprintf("%s.%s is true", pkg, rule)}
			}
		default:
			msgs = asList(v)
		}
		for _, m := range msgs {
			msg, field := message(m)
			out = append(out, finding.Finding{Severity: sev, Location: fieldLocation(d, field), Message: msg, Policy: policy,
				Source: d.Source.Name, Field: strings.Join(field, ".")})
		}
	}
	return out
}

func (p *Policies) eval(ctx context.Context, q rego.PreparedEvalQuery, input map[string]any) (rego.ResultSet, error) {
	// Converted straight to Rego's values: EvalInput would go through a
	// JSON round trip, a good part of an evaluation's cost.
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("the input is not JSON-like: %w", err)
	}
	return p.evalValue(ctx, q, value)
}

// evalValue evaluates a prepared query on an input, within the set's time
// limit. The evaluation is stopped through a topdown.Cancel of its own
// rather than a context with a deadline: OPA starts a goroutine per
// evaluation to watch a context, which (with the context and its timer)
// was a measurable part of a short evaluation. Metrics are not kept (OPA
// would make a fresh set of maps for each evaluation otherwise).
func (p *Policies) evalValue(ctx context.Context, q rego.PreparedEvalQuery, input ast.Value) (rego.ResultSet, error) {
	cancel := topdown.NewCancel()
	var late atomic.Bool
	if p.timeout > 0 {
		t := time.AfterFunc(p.timeout, func() { late.Store(true); cancel.Cancel() })
		defer t.Stop()
	}
	stop := context.AfterFunc(ctx, cancel.Cancel)
	defer stop()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input), rego.EvalExternalCancel(cancel), rego.EvalMetrics(metrics.NoOp()))
	if err != nil && (late.Load() || ctx.Err() == context.DeadlineExceeded) {
		return nil, fmt.Errorf("stopped after %s: the policy took too long (does it loop?)", p.timeout)
	}
	return rs, err
}

func evalError(d *document.Document, policy string, err error) finding.Finding {
	return finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: policy, Source: d.Source.Name,
		Message: fmt.Sprintf("policy %s failed: %v", policy, err)}
}

func values(rs rego.ResultSet) []any {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil
	}
	return asList(rs[0].Expressions[0].Value)
}

// message reads a rule's value in the conftest convention: a string, or an
// object with msg and an optional field path.
func message(v any) (string, []string) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		msg, _ := x["msg"].(string)
		if msg == "" {
			b, _ := json.Marshal(x)
			msg = string(b)
		}
		return msg, fieldPath(x["field"])
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

// fieldPath accepts ["laiki-spec", "a", 0] or "laiki-spec.a.0"; a path that
// does not start with laiki-metadata or laiki-spec is taken to be inside
// laiki-spec.
func fieldPath(v any) []string {
	var path []string
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		path = strings.Split(x, ".")
	case []any:
		for _, seg := range x {
			switch s := seg.(type) {
			case string:
				path = append(path, s)
			case json.Number:
				path = append(path, s.String())
			default:
				path = append(path, fmt.Sprint(s))
			}
		}
	default:
		return nil
	}
	if len(path) > 0 && path[0] != document.KeyMetadata && path[0] != document.KeySpec {
		path = append([]string{document.KeySpec}, path...)
	}
	return path
}

func fieldLocation(d *document.Document, field []string) finding.Location {
	if len(field) == 0 {
		return d.PosOf(document.KeySpec)
	}
	return d.PosOf(field...)
}

// Normalize turns values that came back from Rego (json.Number) into the
// plain values the rest of the engine uses (int64, float64).
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	}
	return v
}
