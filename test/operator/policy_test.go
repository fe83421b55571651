package operator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/gittest"
)

const registryRule = `package laiki.governance.registry

deny contains {"msg": "images come from registry.example.com", "field": ["container-image"]} if {
	not startswith(input["laiki-spec"]["container-image"], "registry.example.com/")
}
`

const registryTest = `package laiki.governance.registry_test

import data.laiki.governance.registry

test_other_registry_denied if {
	count(registry.deny) == 1 with input as {"laiki-spec": {"container-image": "docker.io/x:1"}}
}
`

// memoryRule denies a memory limit in Gi above 2: stricter than before.
const memoryRule = `package laiki.governance.memory

deny contains {"msg": "at most 2Gi of memory", "field": ["container-memory-limit"]} if {
	limit := input["laiki-spec"]["container-memory-limit"]
	endswith(limit, "Gi")
	to_number(trim_suffix(limit, "Gi")) > 2
}
`

func report(t *testing.T) reconcile.Report {
	t.Helper()
	var rep reconcile.Report
	_ = yaml.Unmarshal([]byte(statusReport(t)), &rep)
	return rep
}

func policyCondition(rep reconcile.Report) *metav1.Condition {
	if rep.Policies == nil {
		return nil
	}
	return meta.FindStatusCondition(rep.Policies.Conditions, v1alpha1.ReadyCondition)
}

func gauge(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func policyEvents(t *testing.T, reason string) []string {
	t.Helper()
	list := &corev1.EventList{}
	if err := admin.List(context.Background(), list, client.InNamespace("laiki-system")); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Reason == reason && e.InvolvedObject.Name == statusOf {
			out = append(out, e.Message)
		}
	}
	return out
}

// Platform policies in Git change while the operator runs: a policy that
// does not compile, or calls http.send, is refused and the set in force
// keeps deciding, with status, events and metrics saying why; a stricter
// good one takes over, and a running app it would reject keeps running,
// reported by the audit.
func TestPolicyHotReload(t *testing.T) {
	const ns = "team-policy"
	root := t.TempDir()
	img := func(id string) string { return "registry.example.com/team/" + id + ":1" }
	platform := platformFiles(ns)
	platform["policies/registry.rego"] = registryRule
	platform["policies/registry_test.rego"] = registryTest
	_, platformWork := gittest.Repo(t, root, "platform", platform)
	_, teamWork := gittest.Repo(t, root, "team", map[string]string{
		"apps/one.yaml": appFile(ns, "one", img("one")),
		"apps/big.yaml": appFile(ns, "big", img("big")) + "  container-memory-limit: 4Gi\n",
	})
	daemon, _ := gittest.Daemon(t, root)
	dir := t.TempDir()
	file := filepath.Join(dir, "laiki.yaml")
	text := "sources:\n  - name: platform\n    git: {url: " + daemon + "/platform.git, ref: main}\n    role: platform\n" +
		"  - name: team-a\n    git: {url: " + daemon + "/team.git, ref: main}\n    allow:\n      target-namespaces: [" + ns + "]\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	const interval = time.Second
	s := startOperator(t, cfg, "policy", interval, nil)
	eventually(t, 30*time.Second, func() bool { return ids(t, ns, "apps") == "big,one" }, func() string { return ids(t, ns, "apps") })
	o, _ := s.runs.waitRun(t, 0, 10*time.Second, "a run decided", func(o observed) bool { return o.err == nil && o.run != nil && o.run.Result != nil })
	first := o.run.Result.Policies.Revision

	refused := func(t *testing.T, why string) {
		t.Helper()
		eventually(t, 20*time.Second, func() bool {
			c := policyCondition(report(t))
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.PoliciesRefusedReason && strings.Contains(c.Message, why)
		}, func() string { return statusReport(t) })
		rep := report(t)
		if rep.Policies.InForce != first || rep.PolicyRevision != first || rep.Policies.Read == first {
			t.Errorf("in force %s, read %s; want %s in force", rep.Policies.InForce, rep.Policies.Read, first)
		}
		if got := gauge(t, "laiki_policy_refused"); got != 1 {
			t.Errorf("laiki_policy_refused = %v", got)
		}
		eventually(t, 10*time.Second, func() bool {
			for _, e := range policyEvents(t, v1alpha1.PoliciesRefusedReason) {
				if strings.Contains(e, why) {
					return true
				}
			}
			return false
		}, func() string { return strings.Join(policyEvents(t, v1alpha1.PoliciesRefusedReason), "\n") })
	}

	t.Run("a broken policy is refused while the old one keeps deciding", func(t *testing.T) {
		gittest.Commit(t, platformWork, map[string]string{"policies/registry.rego": strings.Replace(registryRule, "not startswith", "not starts_with", 1)}, "typo")
		refused(t, "policies/registry.rego:4")
		// The old registry rule still decides: an app from elsewhere is
		// refused, one from the registry is deployed.
		gittest.Commit(t, teamWork, map[string]string{
			"apps/two.yaml":   appFile(ns, "two", img("two")),
			"apps/other.yaml": appFile(ns, "other", "docker.io/someone/other:1"),
		}, "two apps")
		eventually(t, 20*time.Second, func() bool { return ids(t, ns, "apps") == "big,one,two" }, func() string { return ids(t, ns, "apps") })
		var judged bool
		s.runs.waitRun(t, s.runs.count()-1, 10*time.Second, "app other is judged", func(o observed) bool {
			if o.err != nil || o.run == nil || o.run.Result == nil {
				return false
			}
			for _, r := range o.run.Result.Resources {
				if r.ID == "other" {
					judged = true
					if r.Accepted || r.PolicyRevision != first {
						t.Errorf("app other: accepted %v by %s; the old rule (%s) must refuse it", r.Accepted, r.PolicyRevision, first)
					}
				}
			}
			return judged
		})
	})

	t.Run("a policy calling http.send is refused", func(t *testing.T) {
		gittest.Commit(t, platformWork, map[string]string{
			"policies/registry.rego": registryRule,
			"policies/phone.rego":    "package laiki.governance.phone\n\ndeny contains \"x\" if {\n\thttp.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:9\"}).status_code == 200\n}\n",
		}, "phone home")
		refused(t, "http.send")
	})

	t.Run("a stricter policy flags running apps without removing them", func(t *testing.T) {
		gittest.Commit(t, platformWork, map[string]string{"policies/memory.rego": memoryRule}, "at most 2Gi", "policies/phone.rego")
		eventually(t, 20*time.Second, func() bool {
			rep := report(t)
			c := policyCondition(rep)
			return c != nil && c.Status == metav1.ConditionTrue && rep.PolicyRevision != first && len(rep.Audit) == 1
		}, func() string { return statusReport(t) })
		rep := report(t)
		a := rep.Audit[0]
		if !strings.Contains(a.Resource, "/big") || a.AcceptedBy != first || a.RejectedBy != rep.PolicyRevision ||
			len(a.Violations) != 1 || !strings.Contains(a.Violations[0], "at most 2Gi") || a.File != "apps/big.yaml" {
			t.Errorf("audit: %+v", a)
		}
		if got := ids(t, ns, "apps"); got != "big,one,two" {
			t.Errorf("apps %q: the audit must not remove a running app", got)
		}
		if got := gauge(t, "laiki_audit_violations"); got != 1 {
			t.Errorf("laiki_audit_violations = %v", got)
		}
		if got := gauge(t, "laiki_policy_refused"); got != 0 {
			t.Errorf("laiki_policy_refused = %v after a good set", got)
		}
		var found bool
		for _, d := range rep.NotReady {
			found = found || d.File == "apps/big.yaml" && d.Reason == v1alpha1.PolicyViolationReason && strings.Contains(d.Message, "keeps running")
		}
		if !found {
			t.Errorf("app big is not reported as a policy violation: %+v", rep.NotReady)
		}
		// A new app the stricter policy refuses is not deployed: only what
		// was running is kept.
		gittest.Commit(t, teamWork, map[string]string{"apps/huge.yaml": appFile(ns, "huge", img("huge")) + "  container-memory-limit: 8Gi\n"}, "huge")
		n := s.runs.count()
		s.runs.waitRun(t, n, 20*time.Second, "the huge app is judged", func(o observed) bool {
			if o.run == nil || o.run.Result == nil {
				return false
			}
			for _, r := range o.run.Result.Resources {
				if r.ID == "huge" {
					return true
				}
			}
			return false
		})
		if got := ids(t, ns, "apps"); got != "big,one,two" {
			t.Errorf("apps %q", got)
		}
		// A new operator (a restart, a new release) keeps them too: the
		// last accepted versions are kept in the cluster, not in memory.
		s.cancel()
		<-s.stopped
		s2 := startOperator(t, cfg, "policy", interval, nil)
		o, _ := s2.runs.waitRun(t, 0, 20*time.Second, "a run of the new operator", func(o observed) bool { return o.err == nil && o.run != nil && o.run.Outcome != nil })
		if len(o.run.Audit) != 1 || o.run.Audit[0].Resource.ID != "big" || o.run.Audit[0].AcceptedBy != first {
			t.Errorf("after a restart, the audit: %+v", o.run.Audit)
		}
		if got := ids(t, ns, "apps"); got != "big,one,two" {
			t.Errorf("apps %q after a restart: a running app was removed", got)
		}
		s = s2
		// Fixing the app clears the violation.
		gittest.Commit(t, teamWork, map[string]string{"apps/big.yaml": appFile(ns, "big", img("big")) + "  container-memory-limit: 2Gi\n"}, "smaller")
		eventually(t, 20*time.Second, func() bool { return len(report(t).Audit) == 0 }, func() string { return statusReport(t) })
	})
}

// Platform policies from a ConfigMap: changed in the cluster, picked up by
// the next run; a broken one is refused and the one in force stays.
func TestPolicyFromConfigMap(t *testing.T) {
	ctx := context.Background()
	const ns = "team-cm"
	namespace(t, "policy-store")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "platform-policies", Namespace: "policy-store"},
		Data: map[string]string{"registry.rego": registryRule, "registry_test.rego": registryTest, "README.md": "not read"}}
	if err := admin.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	gittest.Write(t, filepath.Join(dir, "team"), map[string]string{"other.yaml": appFile(ns, "other", "docker.io/x/other:1")})
	file := filepath.Join(dir, "laiki.yaml")
	text := "sources:\n  - name: platform\n    path: platform\n    role: platform\n" +
		"  - name: policies\n    configmap: {namespace: policy-store, name: platform-policies}\n    role: platform\n" +
		"  - name: team-a\n    path: team\n    allow:\n      target-namespaces: [" + ns + "]\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{
		Config:  cfg,
		Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
		Applier: &reconcile.Applier{Client: admin, Reader: admin, Instance: "cm"},
		Cluster: admin,
	}
	accepted := func(run *reconcile.Run) bool {
		for _, x := range run.Result.Resources {
			if x.ID == "other" {
				return x.Accepted
			}
		}
		t.Fatal("no app other")
		return false
	}
	run, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := run.Result.Policies.Revision
	if accepted(run) {
		t.Fatal("the registry rule from the ConfigMap does not decide")
	}

	cm.Data["registry.rego"] = "package laiki.governance.registry\n\ndeny contains msg if {\n"
	if err := admin.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	run, err = r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Result.Reload.Refused() || run.Result.Policies.Revision != first || accepted(run) ||
		!strings.Contains(run.Result.Reload.Err.Error(), "configmap/policy-store/platform-policies/registry.rego") {
		t.Errorf("a broken ConfigMap policy must be refused, the old one deciding: %+v", run.Result.Reload)
	}

	delete(cm.Data, "registry.rego")
	delete(cm.Data, "registry_test.rego")
	if err := admin.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	run, err = r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Result.Reload.Refused() || run.Result.Policies.Revision == first || !accepted(run) {
		t.Errorf("the ConfigMap without the rule: %+v", run.Result.Reload)
	}
}
