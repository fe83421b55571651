package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

func newWebhook() *cobra.Command {
	var m managed
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
			if err := m.complete(); err != nil {
				return err
			}
			if err := m.newManager(m.srv.options(true)); err != nil {
				return err
			}
			adm := &webhook.Admission{Config: m.cfg, Options: pipeline.Options{Load: source.Options{CacheDir: m.in.cacheDir}}, Refresh: m.interval}
			if err := m.serveWebhook(c.Context(), adm, true); err != nil {
				return err
			}
			return m.start(c.Context(), "webhook")
		},
	}
	m.in.register(c)
	c.Flags().StringVar(&m.namespace, "namespace", "", "namespace of the --cert-secret Secret (default the pod's)")
	c.Flags().DurationVar(&m.interval, "interval", time.Minute, "how often the sources (and so the platform's policies) are re-read")
	m.srv.register(c, "0")
	return c
}
