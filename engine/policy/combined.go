package policy

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// One evaluation per resource. PreProcess then Govern evaluate twice, and
// between the two the pre-processors' spec goes from Rego's values to Go's
// and back. Evaluate runs the pre-processors and governance of a resource
// as one query instead: each pre-processor's spec is handed to the next,
// and the last one's to governance, inside the evaluation (with input as).
// The verdict must be the one PreProcess and Govern give, so whatever that
// query cannot say exactly the same way is evaluated by them again:
//   - a pre-processor that fails, gives no result or no spec (their findings
//     say which, and where);
//   - a spec that would not come back the same from Go (a set, which Go
//     reads as a list; a key that is not a string; a number whose text
//     changes, 1.0 read as 1): the next pre-processor and governance would
//     see the Go value, not Rego's;
//   - an evaluation stopped (time limit, cancelled): each query has a time
//     limit of its own, so a policy that loops costs one more limit.
// And Govern again on a spec changed after the evaluation (keys renamed to
// their canonical spelling, see Evaluation.Govern).

// Evaluation is what the pre-processors made of one resource, with
// governance's findings on their spec when they came from the same
// evaluation.
type Evaluation struct {
	// Spec, Findings and Changes are PreProcess's.
	Spec     any
	Findings []finding.Finding
	Changes  []Change

	p        *Policies
	d        *document.Document
	pps      []*document.Document
	governed []finding.Finding
	judged   bool // governed holds governance's findings on Spec
}

// Evaluate runs the pre-processors pps on d, in order, as PreProcess does;
// with govern, governance too, in the same evaluation where it can (see
// Govern on the Evaluation).
func (p *Policies) Evaluate(ctx context.Context, d *document.Document, pps []*document.Document, govern bool) *Evaluation {
	e := &Evaluation{p: p, d: d, pps: pps}
	if govern && len(pps) > 0 && p.evalCombined(ctx, e) {
		return e
	}
	e.Spec, e.Findings, e.Changes = p.PreProcess(ctx, d, pps)
	return e
}

// Govern returns governance's findings on the spec after the
// pre-processors, as Policies.Govern does. changed says that the spec was
// changed since Evaluate gave it (keys renamed): governance is evaluated
// again on it.
func (e *Evaluation) Govern(ctx context.Context, changed bool) []finding.Finding {
	if e.judged && !changed {
		return e.governed
	}
	return e.p.Govern(ctx, e.d, e.Spec, e.pps)
}

// chains holds the prepared query of each sequence of pre-processor
// documents followed by governance, by the first document. Shared by the
// copies that WithTimeout makes: they have one compiler. The documents
// are kept alive by the map, so an address is never that of another
// document; it is emptied when large, since a long-lived set sees new
// documents on every run.
type chains struct {
	mu    sync.Mutex
	byPP  map[*document.Document][]*chain
	count int
}

// chain is the query of pre-processors then governance (nil: it could not
// be prepared, and is never evaluated), with the first pre-processor's
// parameters as Rego's value, for the input.
type chain struct {
	pps    []*document.Document
	q      *rego.PreparedEvalQuery
	params *ast.Term
}

const maxChains = 256

func (p *Policies) chain(ctx context.Context, pps []*document.Document) *chain {
	c := p.chains
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.byPP[pps[0]] {
		if slices.Equal(ch.pps, pps) {
			return ch
		}
	}
	ch := &chain{pps: slices.Clone(pps)}
	if body, params, ok := p.chainQuery(pps); ok {
		// The values come back as Rego's terms: the pre-processors' spec
		// is read straight into the engine's values (plainValue), and no
		// value is converted that is not read.
		prepared, err := rego.New(rego.ParsedQuery(body), rego.Compiler(p.compiler), rego.Store(p.store), rego.StrictBuiltinErrors(false),
			rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })).PrepareForEval(ctx)
		if err == nil {
			ch.q, ch.params = &prepared, params
		}
	}
	if c.byPP == nil || c.count >= maxChains {
		c.byPP, c.count = map[*document.Document][]*chain{}, 0
	}
	c.byPP[pps[0]] = append(c.byPP[pps[0]], ch)
	c.count++
	return ch
}

// chainQuery gives the query of pre-processors then governance: pp0,
// pp1, ... are each pre-processor's collected rules (spec, warn, changes),
// gov the governance rules' values, each on the input PreProcess or Govern
// would give it. The query's input is the first pre-processor's; the
// others' and governance's are given with `with input as`, their
// parameters and laiki-preprocessors written into the query as values.
// (A `with` costs: evaluating the first pre-processor under one took 5%
// more instructions than two evaluations.)
func (p *Policies) chainQuery(pps []*document.Document) (ast.Body, *ast.Term, bool) {
	list := make([]any, len(pps))
	for i, pp := range pps {
		if _, ok := p.preprocessors[pp.Type]; !ok {
			return nil, nil, false
		}
		list[i] = map[string]any{"name": pp.Name, "pre-processor-name": pp.Type, "parameters": pp.Spec}
	}
	listValue, err := ast.InterfaceToValue(list)
	if err != nil {
		return nil, nil, false
	}
	params := func(i int) *ast.Term {
		return listValue.(*ast.Array).Elem(i).Value.(ast.Object).Get(ast.StringTerm("parameters"))
	}
	// Written with placeholders (vars laiki_params_N, laiki_list), which
	// are then replaced by the values: no value goes through text.
	var b strings.Builder
	common := `"laiki-metadata": input["laiki-metadata"], "laiki-source": input["laiki-source"]`
	for i, pp := range pps {
		collect := p.preprocessors[pp.Type].collect
		if i == 0 {
			fmt.Fprintf(&b, "pp0 := %s\n", collect)
			continue
		}
		fmt.Fprintf(&b, "pp%d := %s with input as {%s, \"laiki-spec\": pp%d.spec, \"parameters\": laiki_params_%d}\n", i, collect, common, i-1, i)
	}
	fmt.Fprintf(&b, "gov := data.%s.governance with input as {%s, \"laiki-spec\": pp%d.spec, %q: laiki_list}\n",
		collectPackage, common, len(pps)-1, KeyPreProcessors)
	body, err := ast.ParseBodyWithOpts(b.String(), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, nil, false
	}
	ast.WalkTerms(body, func(t *ast.Term) bool {
		if v, ok := t.Value.(ast.Var); ok {
			var i int
			if v == "laiki_list" {
				t.Value = listValue
			} else if _, err := fmt.Sscanf(string(v), "laiki_params_%d", &i); err == nil && i > 0 && i < len(pps) {
				t.Value = params(i).Value
			}
		}
		return false
	})
	return body, params(0), true
}

// evalCombined fills e from one evaluation, and reports whether it could.
func (p *Policies) evalCombined(ctx context.Context, e *Evaluation) bool {
	ch := p.chain(ctx, e.pps)
	if ch.q == nil {
		return false
	}
	d := e.d
	spec, err := ast.InterfaceToValue(d.Spec)
	if err != nil {
		return false
	}
	meta, err := ast.InterfaceToValue(d.Metadata)
	if err != nil {
		return false
	}
	// What PreProcess gives the first pre-processor (Document.Input and
	// its parameters).
	input := ast.NewObject(
		[2]*ast.Term{ast.StringTerm(document.KeyMetadata), ast.NewTerm(meta)},
		[2]*ast.Term{ast.StringTerm(document.KeySpec), ast.NewTerm(spec)},
		[2]*ast.Term{ast.StringTerm(document.KeySource), ast.ObjectTerm(
			[2]*ast.Term{ast.StringTerm("name"), ast.StringTerm(d.Source.Name)},
			[2]*ast.Term{ast.StringTerm("role"), ast.StringTerm(d.Source.Role)})},
		[2]*ast.Term{ast.StringTerm("parameters"), ch.params},
	)
	rs, err := p.evalValue(ctx, *ch.q, input)
	if err != nil || len(rs) == 0 {
		return false
	}
	bindings := rs[0].Bindings
	var fs []finding.Finding
	var changes []Change
	before := d.Spec
	for i, pp := range e.pps {
		out, ok := termOf(bindings[fmt.Sprintf("pp%d", i)]).(ast.Object)
		if !ok {
			return false
		}
		st := out.Get(ast.StringTerm("spec"))
		if st == nil {
			return false
		}
		after, exact := plainValue(st.Value)
		if !exact {
			return false
		}
		warn, err := jsonOf(out.Get(ast.StringTerm("warn")))
		if err != nil {
			return false
		}
		changed, err := jsonOf(out.Get(ast.StringTerm("changes")))
		if err != nil {
			return false
		}
		f, c := preProcessed(d, pp, before, after, warn, changed)
		fs, changes = append(fs, f...), append(changes, c...)
		before = after
	}
	results, err := fired(termOf(bindings["gov"]))
	if err != nil {
		return false
	}
	e.Spec, e.Findings, e.Changes = before, fs, changes
	e.governed, e.judged = governed(d, results), true
	return true
}

// fired reads the governance rules' values (by "package|rule") as
// governed reads them, leaving out those that say nothing (an empty set,
// false): most rules do not fire, and converting their values was most of
// reading the result.
func fired(v ast.Value) (map[string]any, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, nil
	}
	out := map[string]any{}
	err := obj.Iter(func(k, e *ast.Term) error {
		key, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("a governance rule named %v", k)
		}
		switch x := e.Value.(type) {
		case ast.Set:
			if x.Len() == 0 {
				return nil
			}
		case *ast.Array:
			if x.Len() == 0 {
				return nil
			}
		case ast.Boolean:
			if !x {
				return nil
			}
		}
		val, err := ast.JSON(e.Value)
		out[string(key)] = val
		return err
	})
	return out, err
}

func termOf(v any) ast.Value {
	if t, ok := v.(*ast.Term); ok && t != nil {
		return t.Value
	}
	return nil
}

// jsonOf is a value as the rego package gives it by default (ast.JSON):
// what message, fieldPath and governed read. An undefined key is nil, as
// a missing key of the map the rego package would give.
func jsonOf(v any) (any, error) {
	switch x := v.(type) {
	case *ast.Term:
		if x == nil {
			return nil, nil
		}
		return ast.JSON(x.Value)
	case ast.Value:
		return ast.JSON(x)
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("not a Rego value: %T", v)
}

// plainValue is Normalize(ast.JSON(v)) in one pass, and says whether the
// engine's value means the same to Rego as v: ast.InterfaceToValue of it
// gives v again. Sets (Go reads them as lists), keys that are not strings,
// numbers written otherwise than Go writes them back, and values read
// lazily from the store are not.
func plainValue(v ast.Value) (any, bool) {
	switch x := v.(type) {
	case ast.Null:
		return nil, true
	case ast.Boolean:
		return bool(x), true
	case ast.String:
		return string(x), true
	case ast.Number:
		s := string(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, strconv.FormatInt(i, 10) == s
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f, strconv.FormatFloat(f, 'g', -1, 64) == s
	case *ast.Array:
		out := make([]any, x.Len())
		for i := range x.Len() {
			e, ok := plainValue(x.Elem(i).Value)
			if !ok {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	case ast.Object:
		if !isPlainObject(x) {
			return nil, false
		}
		out := make(map[string]any, x.Len())
		exact := true
		_ = x.Iter(func(k, e *ast.Term) error {
			key, ok := k.Value.(ast.String)
			if !ok {
				exact = false
				return errStop
			}
			val, ok := plainValue(e.Value)
			if !ok {
				exact = false
				return errStop
			}
			out[string(key)] = val
			return nil
		})
		return out, exact
	}
	return nil, false
}

var errStop = fmt.Errorf("stop")

// isPlainObject tells an object built by evaluation from one read lazily
// from the store, whose Go value (the store's own, float64 numbers) is
// not what Rego's would be.
func isPlainObject(o ast.Object) bool { return reflect.TypeOf(o) == plainObject }

var plainObject = reflect.TypeOf(ast.NewObject())
