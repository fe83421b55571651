package admission

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions tune a run of Rego tests.
type TestOptions struct {
	// Run keeps only the tests whose name (package.rule) matches; empty runs all.
	Run string
	// Coverage records which lines of the policies the tests reach.
	Coverage bool
	// Timeout bounds each test, as Policies.Timeout bounds an evaluation.
	Timeout time.Duration
	// Config is policy-data, given to the tests as data.laiki.config as the
	// engine gives it to the policies.
	Config map[string]any
}

// TestReport is what a run of Rego tests gave.
type TestReport struct {
	Results []*tester.Result
	// Coverage of the policy files (not the tests); nil unless asked for.
	Coverage *cover.Report
}

// Failed counts the tests that failed or stopped on an error.
func (r *TestReport) Failed() int {
	n := 0
	for _, x := range r.Results {
		if !x.Pass() && !x.Skip {
			n++
		}
	}
	return n
}

// Test runs the Rego tests (test_ rules) of the built-in policies and of the
// given platform policies and tests, the way the engine runs the policies:
// Rego v1, the same built-ins (no network, no environment), policy-data as
// data.laiki.config, and a time limit per test. Policies that do not compile
// give a CompileError; failed tests are in the report.
func Test(ctx context.Context, platform, tests []Module, opts TestOptions) (*TestReport, error) {
	builtinPolicies, err := BuiltinModules()
	if err != nil {
		return nil, err
	}
	builtinTests, err := BuiltinTests()
	if err != nil {
		return nil, err
	}
	policyFiles := append(append([]Module(nil), builtinPolicies...), platform...)
	all := append(append(append([]Module(nil), policyFiles...), builtinTests...), tests...)
	parsed, err := parse(all)
	if err != nil {
		return nil, err
	}
	store, err := configStore(opts.Config)
	if err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}

	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(parsed).
		CapturePrintOutput(true).
		EnableTracing(true).
		SetTimeout(opts.Timeout).
		Filter(opts.Run)
	var cov *cover.Cover
	if opts.Coverage {
		cov = cover.New()
		runner.SetCoverageQueryTracer(cov)
	}

	txn, err := store.NewTransaction(ctx, storage.TransactionParams{})
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return nil, compileError(err)
	}
	report := &TestReport{}
	for r := range ch {
		report.Results = append(report.Results, r)
	}
	sort.SliceStable(report.Results, func(i, j int) bool {
		a, b := report.Results[i], report.Results[j]
		if a.Location != nil && b.Location != nil && a.Location.File != b.Location.File {
			return a.Location.File < b.Location.File
		}
		if a.Location != nil && b.Location != nil {
			return a.Location.Row < b.Location.Row
		}
		return a.Package+a.Name < b.Package+b.Name
	})
	if cov != nil {
		policies := map[string]*ast.Module{}
		for _, m := range policyFiles {
			if mod, ok := parsed[m.File]; ok {
				policies[m.File] = mod
			}
		}
		r := cov.Report(policies)
		// The tests cover themselves; only the policies' lines count.
		r.CoveredLines, r.NotCoveredLines = 0, 0
		for f, fr := range r.Files {
			if _, ok := policies[f]; !ok {
				delete(r.Files, f)
				continue
			}
			r.CoveredLines += fr.CoveredLines
			r.NotCoveredLines += fr.NotCoveredLines
		}
		if n := r.CoveredLines + r.NotCoveredLines; n > 0 {
			r.Coverage = 100 * float64(r.CoveredLines) / float64(n)
		}
		report.Coverage = &r
	}
	return report, nil
}

// compileError gives the errors of a compiler that failed each at its file
// and line, as Compile does.
func compileError(err error) error {
	if errs, ok := err.(ast.Errors); ok {
		return &CompileError{Errors: errs}
	}
	return fmt.Errorf("compiling the policies and their tests: %w", err)
}
