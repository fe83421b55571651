package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/webhook"
)

// operatorOptions are the flags of `laiki operator`: those of a command
// that runs a manager, and the reconcile loop's.
type operatorOptions struct {
	managed
	instance, pushAddr, pushSecretEnv string
	namespaces                        []string
	shutdown, awsBackoff, ecrDrift    time.Duration
	leaderElect, withWebhook          bool
}

func newOperator() *cobra.Command {
	var o operatorOptions
	c := &cobra.Command{
		Use:   "operator --config laiki.yaml",
		Short: "Keep the cluster matching the sources: the reconcile loop, with the admission webhook",
		Long: `Operator runs the reconcile loop of 'laiki apply' in a controller-runtime
manager: on every poll interval, on a push from the Git host (POST
/hooks/git on --push-bind-address), and on every change to a Laiki object in
the cluster. It also serves the admission webhook (--webhook).

A source that cannot be fetched keeps its last good read; a rejected new
version of a resource leaves its last accepted version deployed; errors are
retried with exponential backoff. With --leader-elect (the default) several
replicas can run and one reconciles. Status: conditions on Laiki objects,
the ConfigMap laiki-status (sources and documents from Git) in --namespace,
Events, and Prometheus metrics (laiki_*).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.run(c) },
	}
	o.in.register(c)
	f := c.Flags()
	f.StringVar(&o.instance, "instance", "laiki", "name of this Laiki installation: it prunes only the objects it made")
	f.StringSliceVar(&o.namespaces, "namespaces", nil, "the only Kubernetes namespaces Laiki writes to and lists in (its targets'; they must exist): what its RBAC gives it")
	f.StringVar(&o.namespace, "namespace", "", "namespace of the leader election lease and the laiki-status ConfigMap (default the pod's)")
	f.DurationVar(&o.interval, "interval", time.Minute, "how often the sources are read")
	f.StringVar(&o.pushAddr, "push-bind-address", ":8082", "address of the push endpoint POST /hooks/git (0 turns it off)")
	f.StringVar(&o.pushSecretEnv, "push-secret-env", "", "environment variable with the secret a push must carry (GitHub signature, X-Gitlab-Token or X-Laiki-Token)")
	f.DurationVar(&o.awsBackoff, "aws-max-backoff", 20*time.Second, "longest wait between two retries of a throttled or failed AWS call")
	f.DurationVar(&o.ecrDrift, "ecr-drift-interval", 10*time.Minute, "how often every ECR repository's tags, policies and scanning are read and compared (between two, one listing per registry a run; pushes and changes are applied at once)")
	f.BoolVar(&o.leaderElect, "leader-elect", true, "elect one leader among replicas")
	f.DurationVar(&o.shutdown, "graceful-shutdown-timeout", 30*time.Second, "how long a run in progress may take to finish on shutdown")
	f.BoolVar(&o.withWebhook, "webhook", true, "serve the admission webhook too")
	o.srv.register(c, ":8080")
	return c
}

// run reads the inputs, makes the manager, sets up the reconcile loop and
// the webhook, and runs them until the command's context is done.
func (o *operatorOptions) run(c *cobra.Command) error {
	if err := o.complete(); err != nil {
		return err
	}
	if o.leaderElect && o.namespace == "" {
		return cannot(fmt.Errorf("leader election needs a namespace: give --namespace"))
	}
	if err := o.newManager(o.managerOptions()); err != nil {
		return err
	}
	// One gate for the reconcile loop and the webhook: a new policy
	// set is tested once, and both decide with the same set.
	engineOpts := pipeline.Options{Load: source.Options{CacheDir: o.in.cacheDir}, Gate: &policy.Gate{}}
	if err := o.setupReconciler(engineOpts); err != nil {
		return err
	}
	if o.withWebhook {
		adm := &webhook.Admission{Config: o.cfg, Options: engineOpts, Refresh: o.interval}
		if err := o.serveWebhook(c.Context(), adm, false); err != nil {
			return err
		}
	}
	return o.start(c.Context(), "operator")
}

// managerOptions are the serving flags' manager options, with leader
// election and the shutdown timeout.
func (o *operatorOptions) managerOptions() ctrl.Options {
	opts := o.srv.options(o.withWebhook)
	opts.LeaderElection = o.leaderElect
	opts.LeaderElectionID = o.instance + "-operator"
	opts.LeaderElectionNamespace = o.namespace
	// The lease is given up on shutdown, so a new leader takes over
	// at once (the process exits right after).
	opts.LeaderElectionReleaseOnCancel = true
	opts.GracefulShutdownTimeout = &o.shutdown
	return opts
}

// setupReconciler adds the reconcile loop to the manager: a Reconciler that
// applies with the manager's client, run on every interval, push and change.
func (o *operatorOptions) setupReconciler(engineOpts pipeline.Options) error {
	mgr := o.mgr
	r := &reconcile.Reconciler{
		Config:          o.cfg,
		Options:         engineOpts,
		Applier:         &reconcile.Applier{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Instance: o.instance, Namespaces: o.namespaces},
		Cluster:         mgr.GetAPIReader(),
		Status:          mgr.GetClient(),
		StatusNamespace: o.namespace,
		Recorder:        mgr.GetEventRecorderFor("laiki"),
		ExternalOptions: reconcile.ExternalOptions{MaxBackoff: o.awsBackoff, DriftInterval: o.ecrDrift},
	}
	op := &reconcile.Operator{Reconciler: r, Interval: o.interval, PushAddress: o.pushAddr}
	if o.pushSecretEnv != "" {
		if op.PushSecret = os.Getenv(o.pushSecretEnv); op.PushSecret == "" {
			return cannot(fmt.Errorf("--push-secret-env: environment variable %s is not set", o.pushSecretEnv))
		}
	}
	if err := op.Setup(mgr); err != nil {
		return cannot(err)
	}
	return nil
}
