package main

import (
	"fmt"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

func newWebhook() *cobra.Command {
	var in inputs
	var host, certDir, metrics, probes, kubeconfig string
	var port int
	c := &cobra.Command{
		Use:   "webhook --config laiki.yaml",
		Short: "Serve the admission webhook: kubectl apply gets the verdict laiki check gives",
		Long: `Webhook serves, over TLS, a mutating webhook that runs the pre-processors on
Laiki objects and a validating webhook that runs access control, schema
checks and governance, with the sources and policies of laiki.yaml. The
Kubernetes user and groups of a request are mapped to a source by the
sources' subjects in laiki.yaml. It reads the cluster with the usual
kubeconfig (in-cluster, --kubeconfig, or $KUBECONFIG).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New())
			cfg, err := in.load(nil)
			if err != nil {
				return err
			}
			restCfg, err := restConfig(kubeconfig)
			if err != nil {
				return cannot(err)
			}
			mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
				Scheme:                 cluster.Scheme(),
				WebhookServer:          ctrlwebhook.NewServer(ctrlwebhook.Options{Host: host, Port: port, CertDir: certDir}),
				Metrics:                metricsserver.Options{BindAddress: metrics},
				HealthProbeBindAddress: probes,
			})
			if err != nil {
				return cannot(err)
			}
			adm := &webhook.Admission{Config: cfg, Options: engine.Options{Load: source.Options{CacheDir: in.cacheDir}}}
			if err := webhook.Setup(c.Context(), mgr, adm); err != nil {
				return cannot(err)
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
	c.Flags().StringVar(&host, "host", "", "address to serve the webhook on (default all)")
	c.Flags().IntVar(&port, "port", 9443, "port to serve the webhook on")
	c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default in-cluster, or $KUBECONFIG)")
	c.Flags().StringVar(&certDir, "cert-dir", "", "directory with tls.crt and tls.key (default the controller-runtime default)")
	c.Flags().StringVar(&metrics, "metrics-bind-address", "0", "address for Prometheus metrics (0 turns them off)")
	c.Flags().StringVar(&probes, "health-probe-bind-address", ":8081", "address for /healthz and /readyz")
	return c
}
