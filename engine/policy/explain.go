package policy

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// Trace modes, as `opa eval --explain` has them.
const (
	TraceNone  = ""
	TraceNotes = "notes" // the policies' trace() calls
	TraceFails = "fails" // the expressions that failed
	TraceFull  = "full"  // every step
)

// Step is what one pre-processor did to a resource.
type Step struct {
	PreProcessor string // type (the policy) of the pre-processor document
	Document     finding.Location
	Changes      []Change
	Findings     []finding.Finding
	Spec         any // the spec after this step
}

// Firing is one definition of a governance rule that held for the input:
// where it is, and the message it gave.
type Firing struct {
	Location finding.Location
	Value    any
}

// RuleResult is one governance rule (all its definitions) on one input.
type RuleResult struct {
	Package  string
	Rule     string
	Severity finding.Severity
	// Firings lists the definitions that held, each with its value; empty
	// when the rule did not fire.
	Firings []Firing
	// Trace of the rule's evaluation, in the mode asked for.
	Trace string `json:",omitempty"`
}

// Explanation is how the policies decided one resource: the pre-processors
// in the order they ran, then every governance rule, fired or not.
type Explanation struct {
	Revision string
	Input    map[string]any // the input governance saw (after pre-processors)
	Steps    []Step
	Rules    []RuleResult
}

// Explain runs the given pre-processors and every governance rule on one
// resource, as PreProcess and Govern do, and says which rule definitions
// held, with what value, and (in a trace mode) why.
func (p *Policies) Explain(ctx context.Context, d *document.Document, pps []*document.Document, mode string) (*Explanation, error) {
	ex := &Explanation{Revision: p.Revision}
	spec := d.Spec
	for _, pp := range pps {
		one := *d
		one.Spec = spec
		next, fs, changes := p.PreProcess(ctx, &one, []*document.Document{pp})
		ex.Steps = append(ex.Steps, Step{PreProcessor: pp.Type, Document: pp.Location(), Changes: changes, Findings: fs, Spec: next})
		if finding.AnyBlocking(fs) {
			return ex, nil // governance would not run either
		}
		spec = next
	}
	ex.Input = GovernanceInput(d, spec, pps)
	for _, pkg := range p.rulesets {
		for _, rule := range p.rules[pkg] {
			rr, err := p.explainRule(ctx, pkg, rule, ex.Input, mode)
			if err != nil {
				return nil, err
			}
			ex.Rules = append(ex.Rules, rr)
		}
	}
	return ex, nil
}

func (p *Policies) explainRule(ctx context.Context, pkg, rule string, input map[string]any, mode string) (RuleResult, error) {
	rr := RuleResult{Package: pkg, Rule: rule, Severity: finding.Deny}
	if strings.HasPrefix(rule, "warn") {
		rr.Severity = finding.Warn
	}
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	buf := topdown.NewBufferTracer()
	r := rego.New(rego.Query(ref(pkg, rule)), rego.Compiler(p.compiler), rego.Store(p.store), rego.Input(input),
		rego.QueryTracer(buf), rego.StrictBuiltinErrors(false))
	if _, err := r.Eval(ctx); err != nil {
		return rr, fmt.Errorf("%s.%s: %w", pkg, rule, err)
	}
	seen := map[string]bool{}
	for _, ev := range *buf {
		rl, ok := ev.Node.(*ast.Rule)
		if ev.Op != topdown.ExitOp || !ok || rl.Module == nil || packageName(rl.Module) != pkg || rl.Head.Name.String() != rule {
			continue
		}
		term := rl.Head.Value
		if rl.Head.RuleKind() == ast.MultiValue {
			term = rl.Head.Key
		}
		v := valueOf(term, ev)
		loc := finding.Location{File: rl.Location.File, Line: rl.Location.Row, Column: rl.Location.Col}
		key := fmt.Sprintf("%v|%v", loc, v)
		if seen[key] {
			continue
		}
		seen[key] = true
		rr.Firings = append(rr.Firings, Firing{Location: loc, Value: Normalize(v)})
	}
	sort.SliceStable(rr.Firings, func(i, j int) bool { return rr.Firings[i].Location.Line < rr.Firings[j].Location.Line })
	var events []*topdown.Event
	switch mode {
	case TraceNotes:
		events = lineage.Notes(*buf)
	case TraceFails:
		events = lineage.Fails(*buf)
	case TraceFull:
		events = lineage.Full(*buf)
	}
	if len(events) > 0 {
		var b bytes.Buffer
		topdown.PrettyTraceWithLocation(&b, events)
		rr.Trace = b.String()
	}
	return rr, nil
}

// valueOf gives a rule head's value with the rule's local bindings at the
// moment it held put in.
func valueOf(term *ast.Term, ev *topdown.Event) any {
	if term == nil {
		return true
	}
	plugged, err := ast.TransformVars(term, func(v ast.Var) (ast.Value, error) {
		if ev.Locals != nil {
			if x := ev.Locals.Get(v); x != nil {
				return x, nil
			}
		}
		return v, nil
	})
	if err != nil {
		return term.String()
	}
	var val ast.Value
	switch x := plugged.(type) {
	case *ast.Term:
		val = x.Value
	case ast.Value:
		val = x
	default:
		return term.String()
	}
	v, err := ast.JSON(val)
	if err != nil {
		return val.String() // a value that still has free variables
	}
	return v
}
