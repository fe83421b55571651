package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
)

func newPolicy() *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Work on the Rego policies: run their tests, see how they decide one document",
	}
	c.AddCommand(newPolicyTest(), newPolicyEval())
	return c
}

// Exit codes of `laiki policy test`, as `opa test` has them (they differ
// from the other commands' on purpose: CI jobs written for opa test keep
// working).
const (
	testExitFailed = 2 // a test failed, or coverage is under --threshold
	testExitError  = 1 // the policies or tests do not compile, or Laiki cannot run
)

// policyTestOptions are the flags of `laiki policy test`.
type policyTestOptions struct {
	in                inputs
	pattern, format   string // --run, --output
	coverage, verbose bool
	threshold         float64
}

func newPolicyTest() *cobra.Command {
	var o policyTestOptions
	c := &cobra.Command{
		Use:   "test [--config FILE | PATH...]",
		Short: "Run the Rego tests of the built-in and the platform's policies",
		Long: `Test runs the Rego unit tests (rules named test_*) of the built-in policies
and of the platform's: the .rego files of the platform sources of laiki.yaml,
or of the PATHs given (files or directories). Files named *_test.rego hold
tests. Policies and tests run as the engine runs them: Rego v1, no network
or environment built-ins, policy-data of laiki.yaml as data.laiki.config,
and a time limit per test.

Exit codes, as opa test: 0 all passed, 2 a test failed (or coverage is
under --threshold), 1 the policies or tests do not compile.`,
		RunE: func(c *cobra.Command, paths []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(c, paths)
		},
	}
	o.in.register(c)
	f := c.Flags()
	f.StringVar(&o.pattern, "run", "", "run only the tests whose name (package.rule) matches this regular expression")
	f.BoolVar(&o.coverage, "coverage", false, "report which lines of the policies the tests reach")
	f.Float64Var(&o.threshold, "threshold", 0, "fail (exit 2) when coverage is under this percentage; implies --coverage")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every test, with print() output")
	f.StringVarP(&o.format, "output", "o", "text", "output format: text or json (JSON as opa test --format json, with the coverage report)")
	f.StringVarP(&o.format, "format", "f", "text", "the same as -o, as opa test has it")
	return c
}

// validate refuses an unknown format and a threshold that is not a
// percentage.
func (o *policyTestOptions) validate() error {
	if o.format != "text" && o.format != "json" {
		return &exitError{code: testExitError, err: fmt.Errorf("unknown format %q (text or json)", o.format)}
	}
	if o.threshold < 0 || o.threshold > 100 {
		return &exitError{code: testExitError, err: fmt.Errorf("--threshold %v: a percentage, from 0 to 100", o.threshold)}
	}
	return nil
}

// run reads the policies and their tests, runs the tests, writes the
// report, and says by its error how they ended.
func (o *policyTestOptions) run(c *cobra.Command, paths []string) error {
	mods, tests, data, err := o.in.policies(c, paths)
	if err != nil {
		return &exitError{code: testExitError, err: err}
	}
	rep, err := policy.Test(c.Context(), mods, tests, policy.TestOptions{Run: o.pattern, Coverage: o.coverage || o.threshold > 0, Config: data})
	if err != nil {
		return &exitError{code: testExitError, err: err}
	}
	if err := o.write(os.Stdout, rep); err != nil {
		return &exitError{code: testExitError, err: err}
	}
	return o.verdict(rep)
}

// write writes the report as text, or as JSON as opa test --format json
// has it, with the coverage and what the policies evaluate.
func (o *policyTestOptions) write(w io.Writer, rep *policy.TestReport) error {
	if o.format != "json" {
		return printTests(w, rep, o.verbose)
	}
	// As opa test: the evaluation traces only with -v (every
	// passing test's trace made the report hundreds of MB).
	if !o.verbose {
		for _, r := range rep.Results {
			r.Trace = nil
		}
	}
	return encode(w, "json", struct {
		Results  []*tester.Result `json:"results"`
		Coverage *cover.Report    `json:"coverage,omitempty"`
		Policies policy.Inventory `json:"policies"`
	}{rep.Results, rep.Coverage, rep.Inventory})
}

// verdict is the exit of the tests, as opa test's: 1 when none ran, 2 when
// one failed or the coverage is under --threshold.
func (o *policyTestOptions) verdict(rep *policy.TestReport) error {
	if len(rep.Results) == 0 {
		return &exitError{code: testExitError, err: errors.New("no tests ran (rules named test_*, in files named *_test.rego)")}
	}
	if rep.Failed() > 0 {
		return &exitError{code: testExitFailed}
	}
	// The threshold is the platform's coverage: the built-ins are
	// Laiki's, tested by Laiki, and would lift a poorly tested set.
	if o.threshold > 0 {
		got, of := rep.Coverage.Coverage, "the policies"
		if rep.PlatformCoverage >= 0 {
			got, of = rep.PlatformCoverage, "the platform's policies"
		}
		if got < o.threshold {
			return &exitError{code: testExitFailed, err: fmt.Errorf("coverage of %s %.2f%% is under the threshold %.2f%%", of, got, o.threshold)}
		}
	}
	return nil
}

// policies reads the platform's Rego files: of the PATHs given, or of the
// platform sources of laiki.yaml (a team source's Rego is ignored, as the
// engine ignores it), split into policies and tests, with policy-data.
func (in *inputs) policies(c *cobra.Command, paths []string) (mods, tests []policy.Module, data map[string]any, err error) {
	var cfg *source.Config
	if len(paths) > 0 {
		cfg = source.PathsConfig(paths)
		if in.config != "" {
			full, err := source.LoadConfig(in.config)
			if err != nil {
				return nil, nil, nil, err
			}
			cfg.PolicyData = full.PolicyData
		}
	} else if _, statErr := os.Stat("laiki.yaml"); in.config != "" || statErr == nil {
		if cfg, err = in.load(nil); err != nil {
			return nil, nil, nil, err
		}
	} else {
		cfg = &source.Config{} // the built-in policies alone
	}
	loaded := source.Load(c.Context(), cfg, source.Options{CacheDir: in.cacheDir})
	for _, l := range loaded {
		if l.Failed {
			return nil, nil, nil, errors.New(l.Findings[0].Message)
		}
	}
	mods, tests, _ = pipeline.PolicyModules(loaded) // a team source's Rego is not the platform's: left out
	return mods, tests, cfg.PolicyData, nil
}

func printTests(w io.Writer, report *policy.TestReport, verbose bool) error {
	ch := make(chan *tester.Result, len(report.Results))
	for _, r := range report.Results {
		ch <- r
	}
	close(ch)
	if err := (tester.PrettyReporter{Output: w, Verbose: verbose, FailureLine: true, LocalVars: true}).Report(ch); err != nil {
		return err
	}
	fmt.Fprintf(w, "policies: %s\n", report.Inventory)
	if report.Coverage == nil {
		return nil
	}
	fmt.Fprintln(w, "\nCoverage of the policies by their tests:")
	files := slices.Sorted(maps.Keys(report.Coverage.Files))
	for _, f := range files {
		fr := report.Coverage.Files[f]
		var missed []string
		for _, r := range fr.NotCovered {
			if r.Start.Row == r.End.Row {
				missed = append(missed, fmt.Sprint(r.Start.Row))
			} else {
				missed = append(missed, fmt.Sprintf("%d-%d", r.Start.Row, r.End.Row))
			}
		}
		line := fmt.Sprintf("  %-50s %6.2f%%", f, fr.Coverage)
		if len(missed) > 0 {
			line += "  lines not reached: " + strings.Join(missed, ", ")
		}
		fmt.Fprintln(w, line)
	}
	if report.PlatformCoverage >= 0 {
		fmt.Fprintf(w, "  %-50s %6.2f%%\n", "the platform's policies", report.PlatformCoverage)
	}
	fmt.Fprintf(w, "  %-50s %6.2f%%\n", "total", report.Coverage.Coverage)
	return nil
}

func newPolicyEval() *cobra.Command {
	var in inputs
	var explain, output, sourceName string
	var showInput bool
	c := &cobra.Command{
		Use:   "eval [--config FILE] DOCUMENT...",
		Short: "Show how the policies decide the resources of a file: which rules fired, with what, and why",
		Long: `Eval reads the sources of laiki.yaml, then takes each resource of the files
given (a file of a source, or a new file, judged as coming from the source
whose directory holds it, or from --source) through the pre-processors and
every governance rule. It prints what each pre-processor changed, each rule
with the definitions that fired (file and line) and their messages, and the
verdict, with the revision of the policies that made it. --explain adds the
evaluation trace of each rule, as opa eval --explain; --input prints the
input the rules saw, ready for a Rego test's "with input as".`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, files []string) error {
			switch explain {
			case policy.TraceNone, policy.TraceNotes, policy.TraceFails, policy.TraceFull:
			default:
				return cannot(fmt.Errorf("--explain: %q is not notes, fails or full", explain))
			}
			if output != "text" && output != "json" {
				return cannot(fmt.Errorf("unknown output format %q (text or json)", output))
			}
			res, _, err := in.run(c.Context(), nil)
			if err != nil {
				return err
			}
			var evals []evaluation
			for _, file := range files {
				es, err := evaluate(c, res, file, sourceName, explain)
				if err != nil {
					return cannot(err)
				}
				evals = append(evals, es...)
			}
			if len(evals) == 0 {
				return cannot(errors.New("no resources in the files given (targets and pre-processors are not judged by governance)"))
			}
			if output == "json" {
				if err := encode(os.Stdout, "json", evals); err != nil {
					return cannot(err)
				}
			} else {
				printEvaluations(os.Stdout, evals, showInput)
			}
			for _, e := range evals {
				if !e.Accepted {
					return &exitError{code: exitRejected}
				}
			}
			return nil
		},
	}
	in.register(c)
	f := c.Flags()
	f.StringVar(&explain, "explain", "", "add the evaluation trace of each rule: notes, fails or full (as opa eval --explain)")
	f.BoolVar(&showInput, "input", false, "print the input the governance rules saw")
	f.StringVar(&sourceName, "source", "", "judge a file that no source holds as coming from this source")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

// evaluation is one resource, its verdict and how the policies reached it.
type evaluation struct {
	Resource string              `json:"resource"`
	File     string              `json:"file"`
	Line     int                 `json:"line"`
	Accepted bool                `json:"accepted"`
	Findings []finding.Finding   `json:"findings"`
	Policies *policy.Explanation `json:"policies,omitempty"`
	// Inventory of the policy set that decided: what it evaluates.
	Inventory *policy.Inventory `json:"evaluated,omitempty"`
}

func evaluate(c *cobra.Command, res *pipeline.Result, file, sourceName, mode string) ([]evaluation, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	// A file of a source: its documents as the run judged them.
	var docs []*document.Document
	for _, d := range res.Documents {
		if a, err := filepath.Abs(d.File); err == nil && a == abs && d.Kind == document.Resource {
			docs = append(docs, d)
		}
	}
	var out []evaluation
	if len(docs) > 0 {
		for _, d := range docs {
			for _, r := range res.Resources {
				if r.Doc == d {
					out = append(out, explainResource(c, res, r, res.FindingsFor(d), r.Accepted, mode))
				}
			}
		}
		return out, nil
	}
	// A new file: admitted against the run, as the webhook admits an object.
	src, err := sourceOf(res, abs, sourceName)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	parsed := document.Parse(src.Ref(), file, data, document.DefaultLimits)
	if len(parsed.Documents) == 0 && len(parsed.Findings) > 0 {
		return nil, fmt.Errorf("%s: %s", parsed.Findings[0].Location, parsed.Findings[0].Message)
	}
	for _, d := range parsed.Documents {
		if d.Kind != document.Resource {
			continue
		}
		v := res.Admit(c.Context(), d, src)
		fs := append(parsed.ByDocument[d], v.Findings...)
		r := v.Resource
		if r == nil {
			r = &pipeline.Resource{Doc: d, Spec: d.Spec}
		}
		out = append(out, explainResource(c, res, r, fs, v.Allowed && !finding.AnyBlocking(parsed.ByDocument[d]), mode))
	}
	return out, nil
}

func explainResource(c *cobra.Command, res *pipeline.Result, r *pipeline.Resource, fs []finding.Finding, accepted bool, mode string) evaluation {
	e := evaluation{Resource: r.Doc.Type, File: r.Doc.File, Line: r.Doc.Line, Accepted: accepted, Findings: fs}
	if r.ID != "" {
		e.Resource = r.Key()
	}
	if r.Target == nil || r.Doc.Broken {
		return e // never reached the policies: the findings say why
	}
	pps := res.PreProcessorsFor(r.Doc)
	for _, pp := range pps {
		if pp.Broken || res.InError(pp) {
			return e // held back: the findings say by which
		}
	}
	inv := res.Policies.Inventory
	e.Inventory = &inv
	ex, err := res.Policies.Explain(c.Context(), r.Doc, pps, mode)
	if err != nil {
		e.Findings = append(e.Findings, finding.Finding{Severity: finding.Error, Location: r.Doc.Location(), Message: err.Error()})
		return e
	}
	e.Policies = ex
	return e
}

// sourceOf finds the source a new file is judged as: --source, or the local
// source whose directory holds the file.
func sourceOf(res *pipeline.Result, abs, name string) (*source.Source, error) {
	for _, l := range res.Sources {
		if name != "" && l.Source.Name == name {
			return l.Source, nil
		}
		if name == "" && l.Source.Path != "" {
			root, err := filepath.Abs(l.Source.Path)
			if err == nil && (abs == root || strings.HasPrefix(abs, root+string(filepath.Separator))) {
				return l.Source, nil
			}
		}
	}
	if name != "" {
		return nil, fmt.Errorf("--source: no source %q in laiki.yaml", name)
	}
	return nil, fmt.Errorf("%s is in no source's directory: give --source NAME to judge it as that source's", abs)
}

// describeValue shows a rule's value: the message of a {msg, field} object
// with its field, anything else as JSON.
func describeValue(v any) string {
	if m, ok := v.(map[string]any); ok {
		if msg, ok := m["msg"].(string); ok {
			if field, ok := m["field"].([]any); ok && len(field) > 0 {
				parts := make([]string, len(field))
				for i, p := range field {
					parts[i] = fmt.Sprint(p)
				}
				return fmt.Sprintf("%s (at %s)", msg, strings.Join(parts, "."))
			}
			return msg
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func printEvaluations(w io.Writer, evals []evaluation, showInput bool) {
	for i, e := range evals {
		if i > 0 {
			fmt.Fprintln(w)
		}
		verdict := "accepted"
		if !e.Accepted {
			verdict = "rejected"
		}
		rev := ""
		if e.Policies != nil {
			rev = fmt.Sprintf(" by policies %s", e.Policies.Revision)
		}
		// Values a team wrote are escaped: nothing of theirs starts a line.
		fmt.Fprintf(w, "%s (%s:%d): %s%s\n", report.SafeText(e.Resource), report.SafeText(e.File), e.Line, verdict, rev)
		if e.Policies == nil {
			for _, f := range e.Findings {
				fmt.Fprintf(w, "  %s: %s: %s [%s]\n", report.SafeLocation(f.Location), f.Severity, report.SafeText(f.Message), report.SafeText(f.Policy))
			}
			continue
		}
		if e.Inventory != nil {
			fmt.Fprintf(w, "  policies: %s\n", e.Inventory)
		}
		for _, s := range e.Policies.Steps {
			fmt.Fprintf(w, "  pre-processor %s (%s)\n", report.SafeText(s.PreProcessor), report.SafeLocation(s.Document))
			if len(s.Changes) == 0 && len(s.Findings) == 0 {
				fmt.Fprintln(w, "    changed nothing")
			}
			for _, ch := range s.Changes {
				how := "changed"
				if ch.Rule != "" {
					how = "set by " + ch.Rule
				}
				fmt.Fprintf(w, "    %s: %s\n", report.SafeText(strings.Join(ch.Field, ".")), report.SafeText(how))
			}
			for _, f := range s.Findings {
				fmt.Fprintf(w, "    %s: %s: %s\n", report.SafeLocation(f.Location), f.Severity, report.SafeText(f.Message))
			}
		}
		for _, r := range e.Policies.Rules {
			name := r.Package + "." + r.Rule
			if len(r.Firings) == 0 {
				fmt.Fprintf(w, "  %-5s %s: did not fire\n", r.Severity, name)
			}
			for _, f := range r.Firings {
				fmt.Fprintf(w, "  %-5s %s fired at %s: %s\n", strings.ToUpper(string(r.Severity)), name, report.SafeLocation(f.Location), report.SafeText(describeValue(f.Value)))
			}
			if r.Trace != "" {
				for _, line := range strings.Split(strings.TrimRight(r.Trace, "\n"), "\n") {
					fmt.Fprintf(w, "      %s\n", report.SafeText(line))
				}
			}
		}
		var other []finding.Finding
		for _, f := range e.Findings {
			if !strings.HasPrefix(f.Policy, policy.GovernancePackage) {
				other = append(other, f)
			}
		}
		for _, f := range other {
			fmt.Fprintf(w, "  %s: %s: %s [%s]\n", report.SafeLocation(f.Location), f.Severity, report.SafeText(f.Message), report.SafeText(f.Policy))
		}
		if showInput {
			b, _ := json.MarshalIndent(e.Policies.Input, "  ", "  ")
			fmt.Fprintf(w, "  input:\n  %s\n", report.SafeText(string(b)))
		}
	}
}
