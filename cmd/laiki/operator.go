package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/admission"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/webhook"
)

// inClusterNamespace is the namespace a pod runs in, when it runs in one.
func inClusterNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func newOperator() *cobra.Command {
	var in inputs
	var srv serving
	var instance, namespace, pushAddr, pushSecretEnv string
	var namespaces []string
	var interval, shutdown, awsBackoff, ecrDrift time.Duration
	var leaderElect, serveWebhook bool
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
		RunE: func(c *cobra.Command, _ []string) error {
			if err := srv.setLogger(); err != nil {
				return cannot(err)
			}
			cfg, err := in.load(nil)
			if err != nil {
				return err
			}
			restCfg, err := restConfig(srv.kubeconfig)
			if err != nil {
				return cannot(err)
			}
			if namespace == "" {
				namespace = inClusterNamespace()
			}
			if leaderElect && namespace == "" {
				return cannot(fmt.Errorf("leader election needs a namespace: give --namespace"))
			}
			opts := srv.options(serveWebhook)
			opts.LeaderElection = leaderElect
			opts.LeaderElectionID = instance + "-operator"
			opts.LeaderElectionNamespace = namespace
			// The lease is given up on shutdown, so a new leader takes over
			// at once (the process exits right after).
			opts.LeaderElectionReleaseOnCancel = true
			opts.GracefulShutdownTimeout = &shutdown
			mgr, err := ctrl.NewManager(restCfg, opts)
			if err != nil {
				return cannot(fromCluster(restCfg, err))
			}
			// One gate for the reconcile loop and the webhook: a new policy
			// set is tested once, and both decide with the same set.
			engineOpts := engine.Options{Load: source.Options{CacheDir: in.cacheDir}, Gate: &admission.Gate{}}
			r := &reconcile.Reconciler{
				Config:          cfg,
				Options:         engineOpts,
				Applier:         &reconcile.Applier{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Instance: instance, Namespaces: namespaces},
				Cluster:         mgr.GetAPIReader(),
				Status:          mgr.GetClient(),
				StatusNamespace: namespace,
				Recorder:        mgr.GetEventRecorderFor("laiki"),
				ExternalOptions: reconcile.ExternalOptions{MaxBackoff: awsBackoff, DriftInterval: ecrDrift},
			}
			op := &reconcile.Operator{Reconciler: r, Interval: interval, PushAddress: pushAddr}
			if pushSecretEnv != "" {
				if op.PushSecret = os.Getenv(pushSecretEnv); op.PushSecret == "" {
					return cannot(fmt.Errorf("--push-secret-env: environment variable %s is not set", pushSecretEnv))
				}
			}
			if err := op.Setup(mgr); err != nil {
				return cannot(err)
			}
			if serveWebhook {
				if err := srv.certificates(c.Context(), restCfg, mgr, namespace); err != nil {
					return cannot(err)
				}
				if err := webhook.Setup(c.Context(), mgr, &webhook.Admission{Config: cfg, Options: engineOpts, Refresh: interval}); err != nil {
					return cannot(err)
				}
				_ = mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
			}
			_ = mgr.AddHealthzCheck("ping", healthz.Ping)
			if err := mgr.Start(c.Context()); err != nil {
				return cannot(fmt.Errorf("operator: %w", err))
			}
			return nil
		},
	}
	in.register(c)
	f := c.Flags()
	f.StringVar(&instance, "instance", "laiki", "name of this Laiki installation: it prunes only the objects it made")
	f.StringSliceVar(&namespaces, "namespaces", nil, "the only Kubernetes namespaces Laiki writes to and lists in (its targets'; they must exist): what its RBAC gives it")
	f.StringVar(&namespace, "namespace", "", "namespace of the leader election lease and the laiki-status ConfigMap (default the pod's)")
	f.DurationVar(&interval, "interval", time.Minute, "how often the sources are read")
	f.StringVar(&pushAddr, "push-bind-address", ":8082", "address of the push endpoint POST /hooks/git (0 turns it off)")
	f.StringVar(&pushSecretEnv, "push-secret-env", "", "environment variable with the secret a push must carry (GitHub signature, X-Gitlab-Token or X-Laiki-Token)")
	f.DurationVar(&awsBackoff, "aws-max-backoff", 20*time.Second, "longest wait between two retries of a throttled or failed AWS call")
	f.DurationVar(&ecrDrift, "ecr-drift-interval", 10*time.Minute, "how often every ECR repository's tags, policies and scanning are read and compared (between two, one listing per registry a run; pushes and changes are applied at once)")
	f.BoolVar(&leaderElect, "leader-elect", true, "elect one leader among replicas")
	f.DurationVar(&shutdown, "graceful-shutdown-timeout", 30*time.Second, "how long a run in progress may take to finish on shutdown")
	f.BoolVar(&serveWebhook, "webhook", true, "serve the admission webhook too")
	srv.register(c, ":8080")
	return c
}
