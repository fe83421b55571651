package policy

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
	// Timeout bounds each test, as Policies.Timeout() bounds an evaluation.
	Timeout time.Duration
	// Config is policy-data, given to the platform's tests as
	// data.laiki.config as the engine gives it to the policies.
	Config map[string]any
	// SkipBuiltinTests runs the platform's tests only (a reload: the
	// built-ins were tested when Laiki was built).
	SkipBuiltinTests bool
}

// TestReport is what a run of Rego tests gave.
type TestReport struct {
	Results []*tester.Result
	// Coverage of the policy files (not the tests); nil unless asked for.
	Coverage *cover.Report
	// PlatformCoverage is the percentage of the platform's policy lines
	// the tests reach (the built-ins left out); -1 when there are none.
	PlatformCoverage float64
	// Inventory of the policies under test: what the engine evaluates.
	Inventory Inventory
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
// data.laiki.config, and a time limit per test. The built-in tests run
// without policy-data (they test the built-ins as shipped); the platform's
// with it. Policies that do not compile give a CompileError; failed tests
// are in the report.
func Test(ctx context.Context, platform, tests []Module, opts TestOptions) (*TestReport, error) {
	builtinPolicies, err := BuiltinModules()
	if err != nil {
		return nil, err
	}
	report := &TestReport{}
	if opts.Coverage {
		report.Coverage = &cover.Report{Files: map[string]*cover.FileReport{}}
	}
	if !opts.SkipBuiltinTests {
		builtinTests, err := BuiltinTests()
		if err != nil {
			return nil, err
		}
		if err := testPass(ctx, builtinPolicies, builtinTests, builtinPolicies, nil, opts, report); err != nil {
			return nil, err
		}
	}
	all := append(append([]Module(nil), builtinPolicies...), platform...)
	// A policy the engine would never evaluate fails here as it does there.
	parsed, _, err := parseEvaluated(all, platform)
	if err != nil {
		return nil, err
	}
	report.Inventory = inventoryOf(classify(parsed))
	if len(tests) > 0 || len(platform) > 0 {
		if err := testPass(ctx, all, tests, platform, opts.Config, opts, report); err != nil {
			return nil, err
		}
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
	report.PlatformCoverage = -1
	if c := report.Coverage; c != nil && len(platform) > 0 {
		covered, missed := 0, 0
		for _, m := range platform {
			if fr, ok := c.Files[m.File]; ok {
				covered += fr.CoveredLines
				missed += fr.NotCoveredLines
			}
		}
		if covered+missed > 0 {
			report.PlatformCoverage = 100 * float64(covered) / float64(covered+missed)
		}
	}
	if c := report.Coverage; c != nil {
		c.CoveredLines, c.NotCoveredLines, c.Coverage = 0, 0, 0
		for _, fr := range c.Files {
			c.CoveredLines += fr.CoveredLines
			c.NotCoveredLines += fr.NotCoveredLines
		}
		if n := c.CoveredLines + c.NotCoveredLines; n > 0 {
			c.Coverage = 100 * float64(c.CoveredLines) / float64(n)
		}
	}
	return report, nil
}

// testPass runs one set of tests against policies, adding the results to
// report, and the coverage of the files of covered (the tests cover
// themselves; only the policies' lines count).
func testPass(ctx context.Context, policies, tests, covered []Module, config map[string]any, opts TestOptions, report *TestReport) error {
	parsed, err := parse(append(append([]Module(nil), policies...), tests...))
	if err != nil {
		return err
	}
	store, err := configStore(config)
	if err != nil {
		return err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
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
		SetTimeout(timeout).
		Filter(opts.Run)
	var cov *cover.Cover
	if report.Coverage != nil {
		cov = cover.New()
		runner.SetCoverageQueryTracer(cov)
	}
	txn, err := store.NewTransaction(ctx, storage.TransactionParams{})
	if err != nil {
		return err
	}
	defer store.Abort(ctx, txn)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return compileError(err)
	}
	for r := range ch {
		report.Results = append(report.Results, r)
	}
	if cov == nil {
		return nil
	}
	files := map[string]*ast.Module{}
	for _, m := range covered {
		if mod, ok := parsed[m.File]; ok {
			files[m.File] = mod
		}
	}
	for f, fr := range cov.Report(files).Files {
		if _, ok := files[f]; ok {
			report.Coverage.Files[f] = fr
		}
	}
	return nil
}

// compileError gives the errors of a compiler that failed each at its file
// and line, as Compile does.
func compileError(err error) error {
	if errs, ok := err.(ast.Errors); ok {
		return &CompileError{Errors: errs}
	}
	return fmt.Errorf("compiling the policies and their tests: %w", err)
}
