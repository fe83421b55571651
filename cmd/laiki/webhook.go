package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

func newWebhook() *cobra.Command {
	var in inputs
	var srv serving
	var interval time.Duration
	var namespace string
	c := &cobra.Command{
		Use:   "webhook --config laiki.yaml",
		Short: "Serve the admission webhook: kubectl apply gets the verdict laiki check gives",
		Long: `Webhook serves, over TLS, a mutating webhook that runs the pre-processors on
Laiki objects and a validating webhook that runs access control, schema
checks and governance, with the sources and policies of laiki.yaml. The
Kubernetes user and groups of a request are mapped to a source by the
sources' subjects in laiki.yaml. The sources are re-read every --interval:
a changed platform policy set is tested before it is put in force, and one
that fails leaves the set in force deciding. It reads the cluster with the
usual kubeconfig (in-cluster, --kubeconfig, or $KUBECONFIG).`,
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
			mgr, err := ctrl.NewManager(restCfg, srv.options(true))
			if err != nil {
				return cannot(fromCluster(restCfg, err))
			}
			adm := &webhook.Admission{Config: cfg, Options: engine.Options{Load: source.Options{CacheDir: in.cacheDir}}, Refresh: interval}
			if namespace == "" {
				namespace = inClusterNamespace()
			}
			if err := srv.certificates(c.Context(), restCfg, mgr, namespace); err != nil {
				return cannot(err)
			}
			if err := webhook.Setup(c.Context(), mgr, adm); err != nil {
				return cannot(fromCluster(restCfg, err))
			}
			_ = mgr.AddHealthzCheck("ping", healthz.Ping)
			_ = mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
			if err := mgr.Start(c.Context()); err != nil {
				return cannot(fmt.Errorf("webhook: %w", err))
			}
			return nil
		},
	}
	in.register(c)
	c.Flags().StringVar(&namespace, "namespace", "", "namespace of the --cert-secret Secret (default the pod's)")
	c.Flags().DurationVar(&interval, "interval", time.Minute, "how often the sources (and so the platform's policies) are re-read")
	srv.register(c, "0")
	return c
}
