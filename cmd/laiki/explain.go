package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/workflow"
)

func newExplain() *cobra.Command {
	var in inputs
	var output string
	c := &cobra.Command{
		Use:   "explain [--config FILE | PATH...] TARGET-NAMESPACE/ID",
		Short: "Show one resource as the platform will run it, and where each value came from",
		Long: `Explain shows one resource (a ShinyProxyApp by id, an AwsEcrRepository by
name) as the platform will run it: each field with the file and line the
user wrote, or the pre-processor and rule (fallback, append, override), or
the workflow that set it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return cannot(fmt.Errorf("unknown output format %q (text or json)", output))
			}
			want := args[len(args)-1]
			namespace, id, ok := strings.Cut(want, "/")
			if !ok || namespace == "" || id == "" {
				return cannot(fmt.Errorf("%q: give TARGET-NAMESPACE/ID, e.g. ShinyProxy/shinyproxy-demo", want))
			}
			res, desired, err := in.run(c.Context(), args[:len(args)-1])
			if err != nil {
				return err
			}
			exps := workflow.Explain(res, desired, namespace, id)
			if len(exps) == 0 {
				return &exitError{code: exitRejected, err: errors.New("no resource " + want + " in any source")}
			}
			if output == "json" {
				if err := encode(os.Stdout, "json", exps); err != nil {
					return cannot(err)
				}
			} else {
				for i, e := range exps {
					if i > 0 {
						fmt.Println()
					}
					verdict := "accepted"
					if !e.Accepted {
						verdict = "rejected"
					}
					// Values a team wrote are escaped: nothing of theirs starts a line.
					fmt.Printf("%s (%s:%d): %s\n", report.SafeText(e.Resource), report.SafeText(e.File), e.Line, verdict)
					for _, f := range e.Findings {
						fmt.Printf("  %s: %s: %s [%s]\n", report.SafeLocation(f.Location), f.Severity, report.SafeText(f.Message), report.SafeText(f.Policy))
					}
					w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					for _, o := range e.Fields {
						v, _ := encodeInline(o.Value)
						fmt.Fprintf(w, "  %s: %s\t%s\n", report.SafeText(fmt.Sprint(o.Field)), report.SafeText(v), report.SafeText(fmt.Sprint(o.From)))
					}
					_ = w.Flush()
				}
			}
			for _, e := range exps {
				if !e.Accepted {
					return &exitError{code: exitRejected}
				}
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

// encodeInline shows a value on one line, multi-line strings shortened.
func encodeInline(v any) (string, error) {
	var b strings.Builder
	if err := encode(&b, "json", v); err != nil {
		return "", err
	}
	s := strings.TrimSpace(b.String())
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s, nil
}
