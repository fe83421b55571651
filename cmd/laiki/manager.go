package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

// managed is what the commands that run a controller-runtime manager in
// the cluster (webhook, operator) share: their inputs and serving flags,
// and the steps from those to a running manager: complete, newManager,
// serveWebhook, start. Each command registers --namespace and --interval
// with its own help.
type managed struct {
	in  inputs
	srv serving
	// namespace holds the webhook's --cert-secret (and the operator's
	// lease and status); complete defaults it to the pod's.
	namespace string
	// interval is how often the sources are read.
	interval time.Duration

	// Set by complete and newManager.
	cfg     *source.Config
	restCfg *rest.Config
	mgr     ctrl.Manager
}

// complete sets the logger, reads laiki.yaml and the kubeconfig, and
// defaults --namespace to the pod's.
func (m *managed) complete() error {
	if err := m.srv.setLogger(); err != nil {
		return cannot(err)
	}
	cfg, err := m.in.load(nil)
	if err != nil {
		return err
	}
	m.cfg = cfg
	if m.restCfg, err = restConfig(m.srv.kubeconfig); err != nil {
		return cannot(err)
	}
	if m.namespace == "" {
		m.namespace = inClusterNamespace()
	}
	return nil
}

// newManager makes the manager, with options from the serving flags and
// more.
func (m *managed) newManager(opts ctrl.Options) error {
	mgr, err := ctrl.NewManager(m.restCfg, opts)
	if err != nil {
		return cannot(fromCluster(m.restCfg, err))
	}
	m.mgr = mgr
	return nil
}

// serveWebhook makes the webhook's certificate (with --cert-secret),
// registers the admission webhooks with the manager, and reports ready once
// the webhook server has started. nameCluster names the cluster in an
// error of the webhooks' setup (the webhook command's message; the
// operator's has been without).
func (m *managed) serveWebhook(ctx context.Context, adm *webhook.Admission, nameCluster bool) error {
	if err := m.srv.certificates(ctx, m.restCfg, m.mgr, m.namespace); err != nil {
		return cannot(err)
	}
	if err := webhook.Setup(ctx, m.mgr, adm); err != nil {
		if nameCluster {
			err = fromCluster(m.restCfg, err)
		}
		return cannot(err)
	}
	_ = m.mgr.AddReadyzCheck("webhook", m.mgr.GetWebhookServer().StartedChecker())
	return nil
}

// start runs the manager, with a liveness check, until ctx is done; its
// error is prefixed with the command's name.
func (m *managed) start(ctx context.Context, name string) error {
	_ = m.mgr.AddHealthzCheck("ping", healthz.Ping)
	if err := m.mgr.Start(ctx); err != nil {
		return cannot(fmt.Errorf("%s: %w", name, err))
	}
	return nil
}

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
