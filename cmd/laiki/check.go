package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/plan"
	"github.com/laiki-platform/laiki/engine/report"
)

// checkOptions are the flags of `laiki check`.
type checkOptions struct {
	in                                  inputs
	output, against                     string
	verbose, failOnWarn, quiet, noColor bool
}

func newCheck() *cobra.Command {
	var o checkOptions
	c := &cobra.Command{
		Use:   "check [--config FILE | [--platform DIR]... PATH...]",
		Short: "Check documents against the platform's rules, for pull requests",
		Long: `Check reads every source, runs the pre-processors and governance rules on
every resource, and reports what would be rejected, at file and line.

Exit codes: 0 nothing rejected; 1 a resource rejected or a document in
error; 2 Laiki could not run (bad flags, an unreadable sources file, a
source that cannot be read, a policy that does not compile). On exit 2 the
report is still written (json, sarif, github, junit) with the fault, and
what the fault kept from being judged is "not checked", never rejected.

A file of a Git or ConfigMap source is named with its source
(team-one:app.yaml:4:3); github and sarif annotate only the files under
the working directory, and name the others in the message.

To try a team's files on your own machine as its pull request is checked,
give the platform's directory with --platform and the apps as paths: each
--platform path is a platform source, every other path a team source, held
to the team rules (access control, the security baseline) and allowed every
resource type in the namespaces the platform declares targets and
pre-processors in. A laiki.yaml at the root of a --platform directory is not
required; when there is one, its policy-data tunes the rules as it does for
the platform (its sources are not read). --platform does not go with
--config.

Given paths without --platform, each path is a platform source:
platform sources are not held to the team rules, so an app can pass here
and be denied in its pull request. The text output names each path's role,
and says so when every path was read as a platform source.`,
		Example: `  laiki check --config laiki.yaml
  laiki check --platform ./platform ./apps                 # the apps as their pull request is checked
  laiki check --platform ../platform-repo/platform apps/my-app.yaml
  laiki check ./platform ./apps                            # every path a platform source
  laiki check --config laiki.yaml -o sarif > laiki.sarif
  cat app.yaml | laiki check --platform ./platform -       # an app from standard input
  laiki check --config laiki.ci.yaml --against origin/main -o markdown >> "$GITHUB_STEP_SUMMARY"`,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(c.Context(), args)
		},
	}
	o.in.register(c)
	c.Flags().StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	c.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "say on standard error which policies were evaluated (governance rule sets, rules, pre-processors) and their revision; report the files that are not Laiki documents")
	c.Flags().StringVar(&o.against, "against", "", "with -o markdown: also say what the pull request changes in the running platform, "+
		"against REF (its base: origin/main, a commit) of the repository the working directory is in; only the files are read at REF")
	c.Flags().BoolVar(&o.failOnWarn, "fail-on-warn", false, "exit 1 on a warning too (as conftest's --fail-on-warn)")
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "text: the findings only, no summary")
	c.Flags().BoolVar(&o.noColor, "no-color", false, "no colours on a terminal (NO_COLOR does the same)")
	return c
}

// validate refuses an unknown output format, and --against without the
// markdown output its plan is written in.
func (o *checkOptions) validate() error {
	if !slices.Contains(report.Formats, o.output) {
		return cannot(fmt.Errorf("unknown output format %q (one of %s)", o.output, strings.Join(report.Formats, ", ")))
	}
	if o.against != "" && o.output != "markdown" {
		return cannot(errors.New("--against writes its plan in the markdown output: add -o markdown"))
	}
	return nil
}

// run checks the paths (or the config's sources), with the plan against
// --against, writes the report, and says by its error how the check ended.
func (o *checkOptions) run(ctx context.Context, args []string) error {
	paths, cleanup, err := o.in.readStdin(args)
	defer cleanup()
	if err != nil {
		return cannot(err)
	}
	res, err := o.in.judge(ctx, paths)
	if res != nil && !o.verbose {
		quietNotices(res)
	}
	if err != nil {
		return o.writeFault(res, err)
	}
	res.StandDown()
	p, err := o.plan(ctx, paths, res)
	if err != nil {
		return err
	}
	if o.verbose && res.Policies != nil {
		// On standard error: the report on standard output stays
		// as the format has it.
		fmt.Fprintf(os.Stderr, "policies %s: %s\n", res.Policies.Revision, res.Policies.Inventory)
	}
	if err := o.write(res, p); err != nil {
		return cannot(err)
	}
	return o.verdict(res)
}

// writeFault writes the report of a check Laiki could not run, with the
// fault (a CI step that uploads it on failure shows why; text only when
// sources were read, the fault itself on standard error), and nothing the
// team wrote is blamed. It returns err.
func (o *checkOptions) writeFault(res *pipeline.Result, err error) error {
	if res == nil {
		res = &pipeline.Result{}
	}
	if len(res.Faults) == 0 {
		res.Faults = []string{unwrap(err)}
	}
	if o.output != "text" || len(res.Sources) > 0 {
		_ = report.Write(os.Stdout, o.output, res)
	}
	return err
}

// plan is what the pull request changes in the running platform, against
// --against (nil without it, or when a fault kept the check from judging
// everything). When it cannot be made, the markdown report is written with
// the fault.
func (o *checkOptions) plan(ctx context.Context, paths []string, res *pipeline.Result) (*plan.Plan, error) {
	if o.against == "" || len(res.Faults) > 0 {
		return nil, nil
	}
	p, err := planAgainst(ctx, &o.in, paths, o.against, res)
	if err != nil {
		res.Faults = append(res.Faults, unwrap(err))
		_ = report.Markdown(os.Stdout, res, nil)
		return nil, err
	}
	return p, nil
}

// write writes the report in the output format.
func (o *checkOptions) write(res *pipeline.Result, p *plan.Plan) error {
	switch o.output {
	case "text":
		color := !o.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(os.Stdout)
		return report.TextWith(os.Stdout, res, report.TextOptions{Quiet: o.quiet, Color: color})
	case "markdown":
		return report.Markdown(os.Stdout, res, p)
	default:
		return report.Write(os.Stdout, o.output, res)
	}
}

// verdict is the exit of a check whose report is written: 2 when a fault
// kept something from being checked, 1 when something is rejected (or
// warned of, with --fail-on-warn).
func (o *checkOptions) verdict(res *pipeline.Result) error {
	if len(res.Faults) > 0 {
		return cannot(fmt.Errorf("could not check everything:\n%s", strings.Join(res.Faults, "\n")))
	}
	if res.Failed() || o.failOnWarn && res.Summary().Warnings > 0 {
		return &exitError{code: exitRejected}
	}
	return nil
}

// isTerminal reports whether f is a terminal (a character device), where
// colours help; a file, a pipe or a CI log gets none.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// unwrap is the message of a command's error, without its exit code.
func unwrap(err error) string {
	var ee *exitError
	if errors.As(err, &ee) && ee.err != nil {
		return ee.err.Error()
	}
	return err.Error()
}

// quietNotices drops "not a Laiki document", which every run of a
// repository with CI files beside the apps would print: shown with -v.
func quietNotices(res *pipeline.Result) {
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		if f.Severity != finding.Notice || f.Policy != finding.CheckDocument {
			kept = append(kept, f)
		}
	}
	res.Findings = kept
}
