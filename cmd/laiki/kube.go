package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/laiki-platform/laiki/webhook"
)

// restConfig reads the usual kubeconfig: --kubeconfig, $KUBECONFIG,
// in-cluster, or ~/.kube/config, with client-go's loading rules (the flag
// as their explicit path: nothing is passed through the environment). The
// file is looked for first, so that having none says what to do:
// controller-runtime would log its failed in-cluster try with a stack
// trace, and client-go would suggest setting KUBERNETES_MASTER.
func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	from, err := pickKubeconfig(rules)
	if err != nil {
		return nil, err
	}
	if from == "" {
		return rest.InClusterConfig()
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, fmt.Errorf("kubeconfig %s has no cluster, or no current-context: %s", from, kubeconfigHelp)
	}
	return cfg, err
}

const kubeconfigHelp = "point --kubeconfig or KUBECONFIG at the cluster's kubeconfig (the one kubectl uses will do)"

// pickKubeconfig says which kubeconfig the rules will read, as the user
// named it (for messages), or "" in a pod without one (the service account
// is used), or fails when there is none.
func pickKubeconfig(rules *clientcmd.ClientConfigLoadingRules) (string, error) {
	exists := func(f string) bool { _, err := os.Stat(f); return err == nil }
	switch {
	case rules.ExplicitPath != "":
		if !exists(rules.ExplicitPath) {
			return "", fmt.Errorf("--kubeconfig %s: no such file; %s", rules.ExplicitPath, kubeconfigHelp)
		}
		return rules.ExplicitPath, nil
	case os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "":
		env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar)
		if slices.ContainsFunc(filepath.SplitList(env), exists) {
			return env, nil
		}
		return "", fmt.Errorf("KUBECONFIG=%s: no such file; %s", env, kubeconfigHelp)
	}
	if _, err := rest.InClusterConfig(); err == nil {
		return "", nil
	}
	if home := clientcmd.RecommendedHomeFile; exists(home) {
		return home, nil
	}
	return "", fmt.Errorf("no Kubernetes cluster to talk to: not in a pod, no KUBECONFIG and no %s; %s", clientcmd.RecommendedHomeFile, kubeconfigHelp)
}

// fromCluster names the cluster an error came from: most often it cannot
// be reached, or has no Laiki CRDs, and client-go's message does not say
// which cluster it asked.
func fromCluster(cfg *rest.Config, err error) error {
	return fmt.Errorf("the cluster at %s: %w", cfg.Host, err)
}

// serving are the flags of the commands that run a manager in the cluster
// (webhook, operator): where to serve the webhook, metrics and probes.
type serving struct {
	kubeconfig, host, certDir, metrics, probes string
	port                                       int
	// Self-made webhook certificates (where cert-manager does not make them).
	certSecret, service, configurations string
	certNames                           []string
	logLevel                            string
}

func (s *serving) register(c *cobra.Command, metricsDefault string) {
	f := c.Flags()
	f.StringVar(&s.kubeconfig, "kubeconfig", "", "kubeconfig file (default in-cluster, $KUBECONFIG, or ~/.kube/config)")
	f.StringVar(&s.host, "host", "", "address to serve the webhook on (default all)")
	f.IntVar(&s.port, "port", 9443, "port to serve the webhook on")
	f.StringVar(&s.certDir, "cert-dir", "", "directory with the webhook's tls.crt and tls.key (default the controller-runtime default)")
	f.StringVar(&s.metrics, "metrics-bind-address", metricsDefault, "address for Prometheus metrics (0 turns them off)")
	f.StringVar(&s.probes, "health-probe-bind-address", ":8081", "address for /healthz and /readyz")
	f.StringVar(&s.certSecret, "cert-secret", "", "make the webhook's certificate (and rotate it) in this Secret of the namespace, and put its CA into the webhook configurations; empty: the certificate is in --cert-dir already (cert-manager)")
	f.StringVar(&s.service, "webhook-service", "laiki-webhook", "the webhook's Service (its DNS names go into a made certificate)")
	f.StringVar(&s.configurations, "webhook-configuration", "laiki", "the Mutating- and ValidatingWebhookConfiguration that get the CA of a made certificate")
	f.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info or error")
	f.StringSliceVar(&s.certNames, "webhook-cert-names", nil, "more host names for a made certificate (a webhook reached by URL)")
}

// setLogger sets the structured (JSON) logger of controller-runtime at the
// level asked for.
func (s *serving) setLogger() error {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil || (level != zapcore.DebugLevel && level != zapcore.InfoLevel && level != zapcore.ErrorLevel) {
		return fmt.Errorf("--log-level: %q is not debug, info or error", s.logLevel)
	}
	ctrl.SetLogger(zap.New(zap.Level(level)))
	return nil
}

// certificates makes or renews the webhook's certificate before the
// manager starts (the server needs its files then) and keeps it renewed
// while it runs. Nothing to do when --cert-secret is not given.
func (s *serving) certificates(ctx context.Context, cfg *rest.Config, mgr ctrl.Manager, namespace string) error {
	if s.certSecret == "" {
		return nil
	}
	if namespace == "" {
		return fmt.Errorf("--cert-secret needs a namespace: give --namespace")
	}
	c, err := client.New(cfg, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		return err
	}
	dir := s.certDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs") // controller-runtime's default
	}
	certs := &webhook.Certs{Client: c, Namespace: namespace, Secret: s.certSecret, Service: s.service, ExtraNames: s.certNames,
		Dir: dir, Configurations: s.configurations}
	if err := certs.Ensure(ctx); err != nil {
		return fmt.Errorf("webhook certificate: %w", err)
	}
	return mgr.Add(certs)
}

// options are the manager options these flags set.
func (s *serving) options(webhook bool) ctrl.Options {
	o := ctrl.Options{
		Scheme:                 cluster.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: s.metrics},
		HealthProbeBindAddress: s.probes,
		// ConfigMaps and Secrets are read one at a time (status, policies,
		// the webhook certificate): caching them would watch every one in
		// the cluster, and need the RBAC to.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}}}},
	}
	if webhook {
		o.WebhookServer = ctrlwebhook.NewServer(ctrlwebhook.Options{Host: s.host, Port: s.port, CertDir: s.certDir})
	}
	return o
}
