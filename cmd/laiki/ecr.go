package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/reconcile"
)

func newEcr() *cobra.Command {
	c := &cobra.Command{Use: "ecr", Short: "AWS ECR repositories that Laiki manages"}
	c.AddCommand(newEcrReport())
	return c
}

func newEcrReport() *cobra.Command {
	var in inputs
	var output, instance string
	var awsBackoff time.Duration
	c := &cobra.Command{
		Use:   "report [--config FILE | PATH...] [-o table|json]",
		Short: "Evidence for an auditor: every managed ECR repository with the settings in force",
		Long: `Report reads, from ECR itself, every repository this Laiki instance manages
(in the regions and registries its targets' laiki-ecr name) and lists the
settings in force: tag mutability, scan on push, encryption, lifecycle and
repository policies, the Laiki resource and source that own it, whether it
is orphaned, and when it was verified (now: the report reads them live).
Credentials come from the AWS SDK's default chain.

Exit codes: 0 every repository is compliant (IMMUTABLE tags, scan on push,
encrypted); 1 one is not; 2 Laiki could not run or ECR could not be read.`,
		RunE: func(c *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return cannot(fmt.Errorf("unknown output format %q (table or json)", output))
			}
			_, desired, err := in.run(c.Context(), args)
			if err != nil {
				return err
			}
			records, err := (&reconcile.Ecr{Instance: instance, MaxBackoff: awsBackoff}).Report(c.Context(), desired.External)
			if err != nil {
				return cannot(fmt.Errorf("reading ECR: %w", err))
			}
			if output == "json" {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"repositories": records}); err != nil {
					return cannot(err)
				}
			} else {
				w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "REPOSITORY\tREGION\tTAGS\tSCAN ON PUSH\tENCRYPTION\tLIFECYCLE\tPOLICY\tORPHANED\tCOMPLIANT\tRESOURCE\tVERIFIED")
				for _, r := range records {
					orphaned := "-"
					if r.Orphaned != "" {
						orphaned = r.Orphaned
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%v\t%v\t%s\t%v\t%s\t%s\n", r.Name, r.Region, r.TagMutability, r.ScanOnPush, r.Encryption,
						r.LifecyclePolicy, r.RepositoryPolicy, orphaned, r.Compliant, r.Resource, r.VerifiedAt.Format(time.RFC3339))
				}
				_ = w.Flush()
			}
			for _, r := range records {
				if !r.Compliant {
					return &exitError{code: exitRejected}
				}
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	c.Flags().DurationVar(&awsBackoff, "aws-max-backoff", 20*time.Second, "longest wait between two retries of a throttled or failed AWS call")
	c.Flags().StringVar(&instance, "instance", "laiki", "the Laiki installation whose repositories to list")
	return c
}
