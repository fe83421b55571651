package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/report"
)

func newCheck() *cobra.Command {
	var in inputs
	var output string
	c := &cobra.Command{
		Use:   "check [--config FILE | PATH...]",
		Short: "Check documents against the platform's rules, for pull requests",
		Long: `Check reads every source, runs the pre-processors and governance rules on
every resource, and reports what would be rejected, at file and line.

Exit codes: 0 nothing rejected; 1 a resource rejected or a document in
error; 2 Laiki could not run (bad flags, unreadable sources file, a policy
that does not compile).

Given paths instead of --config, each path is a local source with role
platform, for trying files out on your own machine.`,
		Example: `  laiki check --config laiki.yaml
  laiki check ./platform ./apps
  laiki check --config laiki.yaml -o sarif > laiki.sarif`,
		RunE: func(c *cobra.Command, args []string) error {
			if !slices.Contains(report.Formats, output) {
				return cannot(fmt.Errorf("unknown output format %q (one of %s)", output, strings.Join(report.Formats, ", ")))
			}
			res, _, err := in.run(c.Context(), args)
			if err != nil {
				return err
			}
			if err := report.Write(os.Stdout, output, res); err != nil {
				return cannot(err)
			}
			if res.Failed() {
				return &exitError{code: exitRejected}
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	return c
}
