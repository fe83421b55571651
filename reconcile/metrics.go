package reconcile

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Prometheus metrics, served by the manager's metrics endpoint.
var (
	reconcileDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "laiki_reconcile_duration_seconds", Help: "Time one reconcile takes, from reading the sources to the last apply.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
	})
	reconcileErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "laiki_reconcile_errors_total", Help: "Reconciles that applied nothing (the engine could not run, a source was never read).",
	})
	resources = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "laiki_resources", Help: "Resources of the last reconcile, by verdict (accepted, rejected, held: a rejected update whose last accepted version stays).",
	}, []string{"verdict"})
	fetchFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "laiki_source_fetch_failures_total", Help: "Sources that could not be read, by source.",
	}, []string{"source"})
	applyErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "laiki_apply_errors_total", Help: "Objects that could not be applied or pruned.",
	})
	writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "laiki_apply_writes_total", Help: "Objects written, by operation (create, update, prune).",
	}, []string{"op"})
	policyReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "laiki_policy_reloads_total", Help: "New policy sets read from the platform source, by result (loaded, refused: it does not compile or its tests fail; the set in force stays).",
	}, []string{"result"})
	policyRefused = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "laiki_policy_refused", Help: "1 while the policy set read from the platform source is refused and an older one decides.",
	})
	auditViolations = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "laiki_audit_violations", Help: "Running resources that the policies in force reject, unchanged since other policies accepted them; they keep running.",
	})
	externalChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "laiki_external_changes_total", Help: "What the registries did to resources outside the cluster, by type and operation (created, adopted, corrected, orphaned, deleted, failed).",
	}, []string{"type", "op"})
)

func init() {
	metrics.Registry.MustRegister(reconcileDuration, reconcileErrors, resources, fetchFailures, applyErrors, writes, externalChanges,
		policyReloads, policyRefused, auditViolations)
}

// observe records a run in the metrics.
func observe(run *Run) {
	reconcileDuration.Observe(run.Duration.Seconds())
	if run.Result != nil && run.Result.Reload != nil {
		rl := run.Result.Reload
		if run.PoliciesChanged && rl.Refused() {
			policyReloads.WithLabelValues("refused").Inc()
		} else if run.PoliciesChanged {
			policyReloads.WithLabelValues("loaded").Inc()
		}
		policyRefused.Set(map[bool]float64{true: 1, false: 0}[rl.Refused()])
	}
	if run.Outcome == nil {
		reconcileErrors.Inc()
		return
	}
	if run.Result != nil {
		s := run.Result.Summary()
		resources.WithLabelValues("accepted").Set(float64(s.Accepted))
		resources.WithLabelValues("rejected").Set(float64(s.Rejected))
		resources.WithLabelValues("held").Set(float64(len(run.Held)))
		auditViolations.Set(float64(len(run.Audit)))
	}
	for _, c := range run.External {
		if c.Op != ExtUnchanged {
			externalChanges.WithLabelValues(c.Type, c.Op).Inc()
		}
	}
	for _, c := range run.Outcome.Changes {
		switch {
		case c.Err != nil:
			applyErrors.Inc()
		case c.Op != OpUnchanged:
			writes.WithLabelValues(c.Op).Inc()
		}
	}
}
