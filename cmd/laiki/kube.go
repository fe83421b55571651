package main

import (
	"os"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// restConfig reads the usual kubeconfig: --kubeconfig, $KUBECONFIG,
// in-cluster, or ~/.kube/config.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		_ = os.Setenv("KUBECONFIG", kubeconfig)
	}
	return ctrl.GetConfig()
}

// serving are the flags of the commands that run a manager in the cluster
// (webhook, operator): where to serve the webhook, metrics and probes.
type serving struct {
	kubeconfig, host, certDir, metrics, probes string
	port                                       int
}

func (s *serving) register(c *cobra.Command, metricsDefault string) {
	f := c.Flags()
	f.StringVar(&s.kubeconfig, "kubeconfig", "", "kubeconfig file (default in-cluster, $KUBECONFIG, or ~/.kube/config)")
	f.StringVar(&s.host, "host", "", "address to serve the webhook on (default all)")
	f.IntVar(&s.port, "port", 9443, "port to serve the webhook on")
	f.StringVar(&s.certDir, "cert-dir", "", "directory with the webhook's tls.crt and tls.key (default the controller-runtime default)")
	f.StringVar(&s.metrics, "metrics-bind-address", metricsDefault, "address for Prometheus metrics (0 turns them off)")
	f.StringVar(&s.probes, "health-probe-bind-address", ":8081", "address for /healthz and /readyz")
}

// options are the manager options these flags set.
func (s *serving) options(webhook bool) ctrl.Options {
	o := ctrl.Options{
		Scheme:                 cluster.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: s.metrics},
		HealthProbeBindAddress: s.probes,
	}
	if webhook {
		o.WebhookServer = ctrlwebhook.NewServer(ctrlwebhook.Options{Host: s.host, Port: s.port, CertDir: s.certDir})
	}
	return o
}
