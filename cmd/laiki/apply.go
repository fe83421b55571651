package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
)

// applyOptions are the flags of `laiki apply`.
type applyOptions struct {
	in                                    inputs
	kubeconfig, instance, statusNamespace string
	namespaces                            []string
	dryRun                                bool
	awsBackoff, ecrDrift                  time.Duration
	now                                   string
}

func newApply() *cobra.Command {
	var o applyOptions
	c := &cobra.Command{
		Use:   "apply [--config FILE | PATH...] [--dry-run]",
		Short: "Deploy the accepted resources to the cluster once (for a CI/CD pipeline)",
		Long: `Apply runs the same pipeline and workflows as the operator, once: it reads
the sources and the Laiki objects in the cluster, and makes the cluster
match the desired state with server-side apply (field manager laiki). Objects
Laiki made before and no longer wants are deleted; nothing else ever is.
Nothing is written where nothing changed.

With --dry-run the API server is asked what would change (server-side dry
run) and the changes are printed as diffs; nothing is written.

Exit codes: 0 all accepted and applied; 1 a resource rejected, a document in
error, a source that could not be read or an object that could not be
applied (the rest is still applied); 2 Laiki could not run.`,
		Example: `  laiki apply --config laiki.yaml --dry-run
  laiki apply --config laiki.yaml --kubeconfig ~/.kube/config`,
		RunE: func(c *cobra.Command, args []string) error { return o.run(c.Context(), args) },
	}
	o.in.register(c)
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would change in the cluster (server-side dry run), as diffs; write nothing")
	c.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, in-cluster, or ~/.kube/config)")
	c.Flags().StringVar(&o.instance, "instance", "laiki", "name of this Laiki installation: it prunes only the objects it made")
	c.Flags().DurationVar(&o.awsBackoff, "aws-max-backoff", 20*time.Second, "longest wait between two retries of a throttled or failed AWS call")
	c.Flags().DurationVar(&o.ecrDrift, "ecr-drift-interval", 10*time.Minute, "how often every ECR repository's tags, policies and scanning are read and compared (between two, one listing per registry; changes in Git are applied at once)")
	c.Flags().StringSliceVar(&o.namespaces, "namespaces", nil, "the only Kubernetes namespaces Laiki writes to and lists in (its targets'; they must exist): what its RBAC gives it")
	// For tests only: the time the run renders for (the PrePuller's refresh).
	c.Flags().StringVar(&o.now, "now", "", "render as if at this time (RFC 3339); for tests")
	_ = c.Flags().MarkHidden("now")
	c.Flags().StringVar(&o.statusNamespace, "status-namespace", "laiki-system", "keep the last accepted versions (ConfigMap laiki-accepted) and the status (laiki-status) in this namespace, made when missing; \"\" keeps none, and a rejected update then takes its app down")
	return c
}

// run reconciles once and prints what changed; its error carries the exit
// code.
func (o *applyOptions) run(ctx context.Context, args []string) error {
	r, err := o.reconciler(ctx, args)
	if err != nil {
		return err
	}
	run, err := r.Reconcile(ctx)
	if run != nil && run.Result != nil && (len(run.Result.Findings) > 0 || run.Result.Failed()) {
		_ = report.Text(os.Stderr, run.Result)
	}
	if err != nil {
		return reconcileError(err)
	}
	printOutcome(os.Stdout, run, o.dryRun)
	if run.Result.Failed() || len(run.Outcome.Errors()) > 0 || externalFailed(run) {
		return &exitError{code: exitRejected}
	}
	return nil
}

// reconciler reads laiki.yaml (or the paths) and the kubeconfig, and makes
// the Reconciler of one run: applying with a client of the cluster, keeping
// the last accepted versions in --status-namespace, rendering at --now.
func (o *applyOptions) reconciler(ctx context.Context, args []string) (*reconcile.Reconciler, error) {
	cfg, err := o.in.load(args)
	if err != nil {
		return nil, err
	}
	restCfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, cannot(err)
	}
	kc, err := client.New(restCfg, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		return nil, cannot(err)
	}
	r := &reconcile.Reconciler{
		Config:          cfg,
		Options:         pipeline.Options{Load: source.Options{CacheDir: o.in.cacheDir}},
		Applier:         &reconcile.Applier{Client: kc, Reader: kc, Instance: o.instance, DryRun: o.dryRun, Namespaces: o.namespaces},
		Cluster:         kc,
		ExternalOptions: reconcile.ExternalOptions{MaxBackoff: o.awsBackoff, DriftInterval: o.ecrDrift},
	}
	o.keepStatus(ctx, r, kc)
	if o.now != "" {
		at, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return nil, cannot(fmt.Errorf("--now: %w", err))
		}
		r.Now = func() time.Time { return at }
	}
	return r, nil
}

// keepStatus has the run keep the last accepted versions (and the status)
// in --status-namespace, when it can: they live in the cluster, so that a
// rejected update keeps its app running from CI/CD as from the operator (a
// dry run reads them and writes nothing). When it cannot, a warning says
// what that costs.
func (o *applyOptions) keepStatus(ctx context.Context, r *reconcile.Reconciler, kc client.Client) {
	if o.statusNamespace == "" {
		return
	}
	if err := statusHome(ctx, kc, o.statusNamespace, o.dryRun); err != nil {
		fmt.Fprintf(os.Stderr, "laiki: warning: the last accepted versions cannot be kept in namespace %s (%v): a rejected update takes its app down; give --status-namespace a namespace Laiki may write to\n", o.statusNamespace, err)
		return
	}
	r.Status, r.StatusNamespace = kc, o.statusNamespace
}

// reconcileError is the exit of a run that applied nothing: 2 when a policy
// does not compile or Laiki cannot run, 1 when a source was never read.
func reconcileError(err error) error {
	var ce *policy.CompileError
	if errors.As(err, &ce) {
		return cannot(fmt.Errorf("a policy does not compile:\n%w", err))
	}
	if errors.Is(err, reconcile.ErrSourceNeverRead) {
		return &exitError{code: exitRejected, err: err}
	}
	return cannot(err)
}

// printOutcome lists what changed, one line an object, with the diffs of a
// dry run, and a summary line.
func printOutcome(w io.Writer, run *reconcile.Run, dryRun bool) {
	done := map[string]string{reconcile.OpCreate: "created", reconcile.OpUpdate: "updated", reconcile.OpUnchanged: "unchanged", reconcile.OpPrune: "pruned"}
	counts := map[string]int{}
	for _, ch := range run.Outcome.Changes {
		word := done[ch.Op]
		switch {
		case ch.Err != nil:
			word = "failed"
			counts["failed"]++
		case dryRun && ch.Op != reconcile.OpUnchanged:
			word = "would " + ch.Op
			counts[ch.Op]++
		default:
			counts[ch.Op]++
		}
		fmt.Fprintf(w, "%s %s\n", word, report.SafeText(fmt.Sprint(ch)))
		if ch.Diff != "" {
			fmt.Fprint(w, ch.Diff)
		}
	}
	for _, x := range run.External {
		word := x.Op
		if dryRun && x.Op != reconcile.ExtUnchanged && x.Err == nil {
			word = "would be " + x.Op
		}
		fmt.Fprintf(w, "%s %s\n", word, report.SafeText(fmt.Sprint(x)))
		if x.Err != nil {
			counts["failed"]++
		}
	}
	for _, h := range run.Held {
		fmt.Fprintf(w, "kept %s at its last accepted version (the new one is rejected)\n", report.SafeText(h.Key()))
	}
	verb := "applied"
	if dryRun {
		verb = "dry run"
	}
	fmt.Fprintf(w, "%s: %d created, %d updated, %d unchanged, %d pruned, %d failed\n", verb,
		counts[reconcile.OpCreate], counts[reconcile.OpUpdate], counts[reconcile.OpUnchanged], counts[reconcile.OpPrune], counts["failed"])
}

func externalFailed(run *reconcile.Run) bool {
	for _, x := range run.External {
		if x.Err != nil {
			return true
		}
	}
	return false
}

// statusHome makes sure the namespace of the status and last accepted
// versions exists (made when missing, but not in a dry run).
func statusHome(ctx context.Context, kc client.Client, namespace string, dryRun bool) error {
	ns := &corev1.Namespace{}
	err := kc.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	if err == nil || !apierrors.IsNotFound(err) || dryRun {
		if apierrors.IsNotFound(err) {
			return nil // a dry run: nothing there to read yet
		}
		return err
	}
	ns.Name = namespace
	if err := kc.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
