// Package policy runs the Rego half of the pipeline: pre-processors that
// change a resource, then governance rules that judge it. Built-in policies
// (package policies) and the platform's own are compiled together once; each
// query is prepared once and evaluated for every resource, in parallel.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/policies"
)

// Package prefixes of the two kinds of policy.
const (
	PreProcessorPackage = "laiki.preprocessors"
	GovernancePackage   = "laiki.governance"
	collectPackage      = "laiki.internal.collect"
)

// DefaultTimeout bounds one evaluation (and one Rego test) unless told
// otherwise: far more than a policy needs, short enough that a policy that
// runs away does not hold up a reconcile or an admission request.
const DefaultTimeout = 5 * time.Second

// Module is the text of one Rego file.
type Module struct {
	File   string // as shown in messages
	Source string // the source it came from; empty for built-ins
	Text   []byte
}

// Policies is a compiled and prepared set of pre-processors and governance rules.
type Policies struct {
	preprocessors map[string]*preprocessor
	governance    rego.PreparedEvalQuery
	rulesets      []string
	rules         map[string][]string // governance rules by package, sorted
	// compiler and store are kept for Explain, which evaluates one rule at
	// a time with a tracer.
	compiler *ast.Compiler
	store    storage.Store
	// Inventory lists what the set evaluates.
	Inventory Inventory
	// Warnings about the platform's policies that do not stop them (a rule
	// named like a governance rule that is not one), each at its line.
	Warnings []finding.Finding
	// Revision identifies the policy set (a hash of every module), so that
	// every decision can say which policies made it.
	Revision string
	// docs are the METADATA of the policies, by the Policy of their
	// findings (see Doc): a report describes each rule in its author's words.
	docs map[string]RuleDoc
	// chains are Evaluate's prepared queries.
	chains *chains
	// timeout bounds one evaluation, so that a policy that loops is
	// stopped. A set is shared by every request and run that uses it (the
	// Gate hands the one in force to all), so it never changes after
	// Compile: WithTimeout gives a copy instead.
	timeout time.Duration
}

// WithTimeout returns the set with another time limit per evaluation; the
// set itself is left as it is, since others may be evaluating with it.
func (p *Policies) WithTimeout(d time.Duration) *Policies {
	if d <= 0 || d == p.timeout {
		return p
	}
	c := *p
	c.timeout = d
	return &c
}

// Timeout is the time limit of one evaluation.
func (p *Policies) Timeout() time.Duration { return p.timeout }

type preprocessor struct {
	name          string
	resourceTypes map[string]bool // nil: every type
	eval          rego.PreparedEvalQuery
	params        *rego.PreparedEvalQuery
	collect       string // the reference to its collected rules, for Evaluate's queries
}

// CompileError is a policy that does not compile; each error has its file and line.
type CompileError struct {
	Errors ast.Errors
}

func (e *CompileError) Error() string {
	var b strings.Builder
	for i, err := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		if err.Location != nil {
			fmt.Fprintf(&b, "%s:%d:%d: %s", err.Location.File, err.Location.Row, err.Location.Col, err.Message)
		} else {
			b.WriteString(err.Message)
		}
	}
	return b.String()
}

// BuiltinModules returns the embedded policies, without their tests.
func BuiltinModules() ([]Module, error) { return builtin(false) }

// BuiltinTests returns the Rego tests of the embedded policies.
func BuiltinTests() ([]Module, error) { return builtin(true) }

func builtin(tests bool) ([]Module, error) {
	var mods []Module
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || IsTest(p) != tests {
			return err
		}
		text, err := fs.ReadFile(policies.FS, p)
		mods = append(mods, Module{File: "policies/" + p, Text: text})
		return err
	})
	return mods, err
}

// capabilities are OPA's built-ins less those that reach outside the
// evaluation: policies from a Git repository must not call the network or
// read the environment.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	denied := map[string]bool{"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true}
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !denied[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return caps
}

var ruleName = regexp.MustCompile(`^(deny|warn|violation)(_[A-Za-z0-9_]+)?$`)

// Compile parses and compiles the built-in policies and the given platform
// modules, and prepares every query. data is given to policies as
// data.laiki.config.
func Compile(ctx context.Context, platform []Module, config map[string]any) (*Policies, error) {
	builtin, err := BuiltinModules()
	if err != nil {
		return nil, err
	}
	all := append(builtin, platform...)
	sort.SliceStable(all[len(builtin):], func(i, j int) bool { return all[len(builtin)+i].File < all[len(builtin)+j].File })

	parsed, platformFiles, err := parseEvaluated(all, platform)
	if err != nil {
		return nil, err
	}
	revision := policyRevision(all, config)

	pps, gov := classify(parsed)
	p := &Policies{preprocessors: map[string]*preprocessor{}, rules: map[string][]string{}, timeout: DefaultTimeout, chains: &chains{},
		Warnings: nearMisses(parsed, platformFiles)}
	for _, pkg := range slices.Sorted(maps.Keys(gov)) {
		p.rulesets = append(p.rulesets, pkg)
		p.rules[pkg] = slices.Sorted(maps.Keys(gov[pkg]))
	}
	ppNames := slices.Sorted(maps.Keys(pps))
	collect, err := collectorModule(p.rulesets, p.rules, ppNames, pps)
	if err != nil {
		return nil, err
	}
	parsed["laiki:collect.rego"] = collect

	compiler, err := compileModules(parsed)
	if err != nil {
		return nil, err
	}
	store, err := configStore(config)
	if err != nil {
		return nil, err
	}
	p.compiler, p.store = compiler, store
	// From the compiled set only: OPA has refused a package or document
	// with two METADATA blocks of one scope by now.
	p.docs = ruleDocs(parsed)
	if err := p.prepareQueries(ctx, ppNames, pps); err != nil {
		return nil, err
	}
	p.Revision = revision
	p.Inventory = inventoryOf(pps, gov)
	return p, nil
}

// policyRevision hashes every module and the policy-data: policy-data
// decides as much as the policies do.
func policyRevision(all []Module, config map[string]any) string {
	hash := sha256.New()
	for _, m := range all {
		fmt.Fprintf(hash, "%s\x00%d\x00", m.File, len(m.Text))
		hash.Write(m.Text)
	}
	data, _ := json.Marshal(config)
	hash.Write(data)
	return hex.EncodeToString(hash.Sum(nil))[:16]
}

// collectorModule generates the module that gathers the rules' results:
// what rules exist decides it. Governance rules (rules, by package, in the
// order of rulesets) are gathered by one generated query, each
// pre-processor by one of its own (pp_<i>, i its place in ppNames).
func collectorModule(rulesets []string, rules map[string][]string, ppNames []string, pps map[string]map[string]bool) (*ast.Module, error) {
	var collect strings.Builder
	fmt.Fprintf(&collect, "package %s\n\n", collectPackage)
	for _, pkg := range rulesets {
		for _, rule := range rules[pkg] {
			fmt.Fprintf(&collect, "governance[%q] := %s\n", pkg+"|"+rule, ref(pkg, rule))
		}
	}
	for i, name := range ppNames {
		rules := pps[name]
		if !rules["spec"] {
			return nil, &CompileError{Errors: ast.Errors{ast.NewError(ast.CompileErr, nil,
				"pre-processor %s.%s has no `spec` rule: a pre-processor must give the resource's new laiki-spec", PreProcessorPackage, name)}}
		}
		for _, rule := range []string{"spec", "warn", "changes"} {
			if rules[rule] {
				fmt.Fprintf(&collect, "pp_%d[%q] := %s\n", i, rule, ref(PreProcessorPackage+"."+name, rule))
			}
		}
	}
	mod, err := ast.ParseModuleWithOpts("laiki:collect.rego", collect.String(), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("internal: collector module: %w", err)
	}
	return mod, nil
}

// compileModules compiles the parsed modules with the capabilities that
// keep a policy inside its evaluation.
func compileModules(parsed map[string]*ast.Module) (*ast.Compiler, error) {
	compiler := ast.NewCompiler().WithCapabilities(capabilities()).WithEnablePrintStatements(false)
	compiler.Compile(parsed)
	if compiler.Failed() {
		return nil, &CompileError{Errors: compiler.Errors}
	}
	return compiler, nil
}

// prepare prepares one query on the compiled set and its store.
func (p *Policies) prepare(ctx context.Context, query string) (rego.PreparedEvalQuery, error) {
	return rego.New(rego.Query(query), rego.Compiler(p.compiler), rego.Store(p.store), rego.StrictBuiltinErrors(false)).PrepareForEval(ctx)
}

// prepareQueries prepares the governance query and each pre-processor's, so
// that every evaluation after Compile only evaluates.
func (p *Policies) prepareQueries(ctx context.Context, ppNames []string, pps map[string]map[string]bool) error {
	var err error
	if p.governance, err = p.prepare(ctx, "data."+collectPackage+".governance"); err != nil {
		return err
	}
	for i, name := range ppNames {
		pp, err := p.preparePreprocessor(ctx, i, name, pps[name])
		if err != nil {
			return err
		}
		p.preprocessors[name] = pp
	}
	return nil
}

// preparePreprocessor prepares the queries of the pre-processor name (the
// i-th of the collector module), rules being the rules it has; its
// resource_types, which depend on no input, are evaluated once here.
func (p *Policies) preparePreprocessor(ctx context.Context, i int, name string, rules map[string]bool) (*preprocessor, error) {
	var err error
	pp := &preprocessor{name: name, collect: fmt.Sprintf("data.%s.pp_%d", collectPackage, i)}
	if pp.eval, err = p.prepare(ctx, pp.collect); err != nil {
		return nil, err
	}
	if rules["parameter_errors"] {
		q, err := p.prepare(ctx, ref(PreProcessorPackage+"."+name, "parameter_errors"))
		if err != nil {
			return nil, err
		}
		pp.params = &q
	}
	if rules["resource_types"] {
		q, err := p.prepare(ctx, ref(PreProcessorPackage+"."+name, "resource_types"))
		if err != nil {
			return nil, err
		}
		rs, err := q.Eval(ctx, rego.EvalInput(map[string]any{}))
		if err != nil {
			return nil, fmt.Errorf("pre-processor %s: resource_types: %w", name, err)
		}
		if len(rs) > 0 {
			pp.resourceTypes = map[string]bool{}
			for _, v := range asList(rs[0].Expressions[0].Value) {
				if s, ok := v.(string); ok {
					pp.resourceTypes[s] = true
				}
			}
		}
	}
	return pp, nil
}

// classify finds the pre-processors (the rules of each, by name) and the
// governance rules (by package) of a set of modules.
func classify(parsed map[string]*ast.Module) (pps, gov map[string]map[string]bool) {
	pps, gov = map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, mod := range parsed {
		pkg := packageName(mod)
		switch {
		case strings.HasPrefix(pkg, PreProcessorPackage+"."):
			name := strings.TrimPrefix(pkg, PreProcessorPackage+".")
			if strings.Contains(name, ".") {
				continue // helpers below a pre-processor's package
			}
			if pps[name] == nil {
				pps[name] = map[string]bool{}
			}
			for _, r := range mod.Rules {
				pps[name][r.Head.Name.String()] = true
			}
		case pkg == GovernancePackage || strings.HasPrefix(pkg, GovernancePackage+"."):
			for _, r := range mod.Rules {
				if n := r.Head.Name.String(); ruleName.MatchString(n) {
					if gov[pkg] == nil {
						gov[pkg] = map[string]bool{}
					}
					gov[pkg][n] = true
				}
			}
		}
	}
	return pps, gov
}

// Inventory says what a policy set evaluates, so that a platform owner can
// see that every policy they wrote is counted.
type Inventory struct {
	// Rulesets are the governance packages with deny, warn or violation rules.
	Rulesets []string `json:"rulesets"`
	// Rules counts their rules (deny and deny_x are two).
	Rules int `json:"rules"`
	// PreProcessors are the pre-processor policies, by name.
	PreProcessors []string `json:"preprocessors"`
}

func inventoryOf(pps, gov map[string]map[string]bool) Inventory {
	inv := Inventory{Rulesets: slices.Sorted(maps.Keys(gov)), PreProcessors: slices.Sorted(maps.Keys(pps))}
	for _, rules := range gov {
		inv.Rules += len(rules)
	}
	return inv
}

// String: "4 governance rule sets (6 rules) and 1 pre-processor evaluated".
func (i Inventory) String() string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	return fmt.Sprintf("%s (%s) and %s evaluated", plural(len(i.Rulesets), "governance rule set", "governance rule sets"),
		plural(i.Rules, "rule", "rules"), plural(len(i.PreProcessors), "pre-processor", "pre-processors"))
}

// IsTest reports whether a Rego file holds tests (for `laiki policy test`
// and the tests a new policy set must pass), not policies.
func IsTest(file string) bool { return strings.HasSuffix(file, "_test.rego") }

// parse parses modules as the engine reads them: Rego v1, with annotations;
// every problem of every file is reported, each at its file and line.
func parse(mods []Module) (map[string]*ast.Module, error) {
	parsed := map[string]*ast.Module{}
	var errs ast.Errors
	for _, m := range mods {
		if _, dup := parsed[m.File]; dup {
			errs = append(errs, ast.NewError(ast.CompileErr, &ast.Location{File: m.File}, "two policy files with the same path"))
			continue
		}
		mod, err := ast.ParseModuleWithOpts(m.File, string(m.Text), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			var aerrs ast.Errors
			if errors.As(err, &aerrs) {
				errs = append(errs, aerrs...)
				continue
			}
			errs = append(errs, ast.NewError(ast.ParseErr, &ast.Location{File: m.File}, "%v", err))
			continue
		}
		if mod == nil {
			continue // a file of comments only
		}
		if pkg := packageName(mod); strings.HasPrefix(pkg, "laiki.internal") {
			errs = append(errs, ast.NewError(ast.CompileErr, mod.Package.Location, "package %s is reserved for Laiki", pkg))
			continue
		}
		parsed[m.File] = mod
	}
	if len(errs) > 0 {
		return nil, &CompileError{Errors: errs}
	}
	return parsed, nil
}

// ref writes a reference to a rule of a package, quoting path segments that
// are not plain identifiers.
func ref(pkg, rule string) string {
	var b strings.Builder
	b.WriteString("data")
	for _, seg := range append(strings.Split(pkg, "."), rule) {
		if ast.IsVarCompatibleString(seg) && !ast.IsKeyword(seg) {
			b.WriteString("." + seg)
		} else {
			fmt.Fprintf(&b, "[%q]", seg)
		}
	}
	return b.String()
}

func packageName(m *ast.Module) string {
	path := m.Package.Path
	parts := make([]string, 0, len(path)-1)
	for _, t := range path[1:] {
		if s, ok := t.Value.(ast.String); ok {
			parts = append(parts, string(s))
		} else {
			parts = append(parts, t.Value.String())
		}
	}
	return strings.Join(parts, ".")
}

func configStore(config map[string]any) (storage.Store, error) {
	if config == nil {
		config = map[string]any{}
	}
	// A JSON round trip gives the store the plain JSON values it expects.
	raw, err := json.Marshal(map[string]any{"laiki": map[string]any{"config": config}})
	if err != nil {
		return nil, fmt.Errorf("policy-data: %w", err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return inmem.NewFromObject(v), nil
}

// HasPreProcessor reports whether a pre-processor policy of that name exists.
func (p *Policies) HasPreProcessor(name string) bool {
	_, ok := p.preprocessors[name]
	return ok
}

// PreProcessorNames lists the pre-processor policies, sorted.
func (p *Policies) PreProcessorNames() []string { return slices.Sorted(maps.Keys(p.preprocessors)) }

// Rulesets lists the governance packages, sorted.
func (p *Policies) Rulesets() []string { return p.rulesets }

// AppliesTo reports whether a pre-processor changes resources of a type.
func (p *Policies) AppliesTo(name, resourceType string) bool {
	pp, ok := p.preprocessors[name]
	return ok && (pp.resourceTypes == nil || pp.resourceTypes[resourceType])
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case map[string]any:
		out := make([]any, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = append(out, x[k])
		}
		return out
	case nil:
		return nil
	}
	return []any{v}
}
