package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/reconcile"
)

func newEcr() *cobra.Command {
	c := &cobra.Command{Use: "ecr", Short: "AWS ECR repositories that Laiki manages"}
	c.AddCommand(newEcrReport())
	return c
}

func newEcrReport() *cobra.Command {
	var in inputs
	var output, instance, kubeconfig, statusNamespace string
	var awsBackoff, awsTimeout time.Duration
	c := &cobra.Command{
		Use:   "report [--config FILE | PATH...] [-o table|json|csv]",
		Short: "Evidence for an auditor: every managed ECR repository with the settings in force",
		Long: `Report reads, from ECR itself, every repository this Laiki instance manages
(the records in the ConfigMap <instance>-ecr, kept by laiki apply and the
operator: repositories it made or adopted, in every region and registry it
worked in, whether a resource still wants them or not), every repository a
resource wants, and every other repository under a name prefix Laiki
manages. For each: the settings in force as ECR reports them now (tag
mutability and its exclusions, the scanning ECR applies, encryption, the
policies' SHA-256, tags), how it stands with Laiki (created, adopted,
refused, missing, unmanaged), which resource asked for it (file, Git commit,
policy revision), when and by which Laiki it was made and last applied, the
last settings Laiki set back, whether it complies and why not, and when and
by which Laiki the report verified it.

Every call to AWS is bounded (--aws-timeout); on a terminal, progress is
written to standard error. Credentials come from the AWS SDK's default chain.

Exit codes: 0 every repository complies; 1 one does not; 2 Laiki could not
run, or ECR or the records could not be read.`,
		RunE: func(c *cobra.Command, args []string) error {
			if output != "table" && output != "json" && output != "csv" {
				return cannot(fmt.Errorf("unknown output format %q (table, json or csv)", output))
			}
			_, desired, err := in.run(c.Context(), args)
			if err != nil {
				return err
			}
			e := &reconcile.Ecr{Instance: instance, MaxBackoff: awsBackoff, CallTimeout: awsTimeout, Progress: progress(os.Stderr)}
			if statusNamespace != "" {
				if e.Store, err = recordsClient(kubeconfig); err != nil {
					return cannot(fmt.Errorf("reading the records of the repositories Laiki manages (give --status-namespace \"\" to go without, and miss those no resource wants any more): %w", err))
				}
				e.Namespace = statusNamespace
			}
			records, err := e.Report(c.Context(), desired.External)
			if err != nil {
				return cannot(fmt.Errorf("reading ECR: %w", err))
			}
			if err := writeEcrReport(os.Stdout, output, records); err != nil {
				return cannot(err)
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
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or csv")
	c.Flags().DurationVar(&awsBackoff, "aws-max-backoff", 20*time.Second, "longest wait between two retries of a throttled or failed AWS call")
	c.Flags().DurationVar(&awsTimeout, "aws-timeout", 30*time.Second, "longest an AWS call may take, its retries included")
	c.Flags().StringVar(&instance, "instance", "laiki", "the Laiki installation whose repositories to list")
	c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, in-cluster, or ~/.kube/config)")
	c.Flags().StringVar(&statusNamespace, "status-namespace", "laiki-system", "namespace of the records (ConfigMap <instance>-ecr); \"\" reads none, and lists only what the sources want and what is under their prefixes")
	return c
}

func recordsClient(kubeconfig string) (client.Client, error) {
	restCfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(restCfg, client.Options{Scheme: cluster.Scheme()})
}

// progress writes what a long read is doing to a terminal; nothing to a
// file or a pipe, whose reader wants the report alone.
func progress(f *os.File) func(string) {
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(s string) { fmt.Fprintf(f, "laiki: %s\n", s) }
}

func writeEcrReport(w io.Writer, output string, records []reconcile.EcrRecord) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(records)
	case "csv":
		return ecrCSV(w, records)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tREGION\tMANAGED\tTAGS\tSCANNING\tENCRYPTION\tLIFECYCLE\tPOLICY\tORPHANED\tCOMPLIANT\tRESOURCE\tCOMMIT\tVERIFIED")
	for _, r := range records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", r.Name, r.Region, r.Managed, dash(mutability(r)), dash(r.ScanFrequency),
			dash(r.Encryption), yesNo(r.LifecyclePolicy), yesNo(r.RepositoryPolicy), dash(r.Orphaned), r.Compliant, dash(r.Resource), dash(short(r.Commit)),
			r.VerifiedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range records {
		for _, p := range r.Problems {
			fmt.Fprintf(w, "%s: %s\n", r.Name, p)
		}
	}
	return nil
}

// ecrCSV is the report as one row a repository, for a spreadsheet.
func ecrCSV(w io.Writer, records []reconcile.EcrRecord) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"repository", "region", "registry", "uri", "managed", "image_tag_mutability", "exclusions", "scan_frequency", "scan_on_push",
		"encryption", "kms_key", "lifecycle_policy_sha256", "repository_policy_sha256", "resource", "source", "file", "commit", "policy_revision",
		"made_at", "made_by", "applied_at", "applied_by", "on_delete", "orphaned", "compliant", "problems", "verified_at", "verified_by"})
	for _, r := range records {
		_ = cw.Write([]string{r.Name, r.Region, r.Registry, r.URI, r.Managed, r.TagMutability, strings.Join(r.Exclusions, " "), r.ScanFrequency,
			fmt.Sprint(r.ScanOnPush), r.Encryption, r.KMSKey, r.LifecyclePolicy, r.RepositoryPolicy, r.Resource, r.Source, r.File, r.Commit,
			r.PolicyRevision, stamp(r.MadeAt), r.MadeBy, stamp(r.AppliedAt), r.AppliedBy, r.OnDelete, r.Orphaned, fmt.Sprint(r.Compliant),
			strings.Join(r.Problems, "; "), stamp(r.VerifiedAt), r.VerifiedBy})
	}
	cw.Flush()
	return cw.Error()
}

func mutability(r reconcile.EcrRecord) string {
	if len(r.Exclusions) == 0 {
		return r.TagMutability
	}
	return r.TagMutability + "(" + strings.Join(r.Exclusions, ",") + ")"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(digest string) string {
	if digest == "" {
		return "none"
	}
	return "yes"
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
