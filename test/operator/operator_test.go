package operator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
	"github.com/laiki-platform/laiki/test/gittest"
)

// platformFiles is a platform of its own for a test: a ShinyProxy target
// "apps" and a PrePuller in the Laiki namespace ns, and the defaults.
func platformFiles(ns string) map[string]string {
	return map[string]string{
		"shinyproxy.yaml": "laiki-metadata:\n  target-type: ShinyProxy\n  name: apps\n  namespace: " + ns +
			"\nlaiki-spec:\n  fqdn: apps.example.com\n  proxy:\n    title: Apps\n    containerBackend: kubernetes\n",
		"pre-puller.yaml": "laiki-metadata:\n  target-type: PrePuller\n  name: pre-puller\n  namespace: " + ns + "\nlaiki-spec:\n",
		"crane.yaml": "laiki-metadata:\n  target-type: Crane\n  name: crane\n  namespace: " + ns +
			"\nlaiki-spec:\n  app:\n    storage-location: /srv/crane/\n  laiki-storage:\n    kubernetes:\n      claim: {storage-class-name: rwx, size: 10Gi}\n",
		"defaults.yaml": "laiki-metadata:\n  pre-processor-name: ShinyProxyAppDefaultsPreProcessor\n  name: defaults\n  target-namespace: " + ns +
			"\nlaiki-spec:\n  fallback:\n    container-memory-limit: 512Mi\n  override:\n    container-privileged: false\n",
	}
}

func appFile(ns, id, image string) string {
	return "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: apps\n  target-namespace: " + ns +
		"\nlaiki-spec:\n  id: " + id + "\n  container-image: " + image + "\n"
}

// laikiConfig writes a platform directory and a laiki.yaml with it and a
// team source at gitURL (none when empty).
func laikiConfig(t *testing.T, ns, gitURL string) *source.Config {
	t.Helper()
	dir := t.TempDir()
	gittest.Write(t, filepath.Join(dir, "platform"), platformFiles(ns))
	text := "sources:\n  - name: platform\n    path: platform\n    role: platform\n"
	if gitURL != "" {
		text += "  - name: team-a\n    git: {url: " + gitURL + ", ref: main}\n    allow:\n      target-namespaces: [" + ns + "]\n"
	}
	file := filepath.Join(dir, "laiki.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// observed is one run of an operator, with the writes counted while it ran.
type observed struct {
	run    *reconcile.Run
	err    error
	writes int64
}

// runs collects the runs of an operator.
type runs struct {
	mu   sync.Mutex
	list []observed
}

func (r *runs) add(o observed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, o)
}

func (r *runs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

func (r *runs) last() observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		return observed{}
	}
	return r.list[len(r.list)-1]
}

// waitRun waits for a run from the n-th (counted from 0) on that satisfies
// cond, and returns it and its number.
func (r *runs) waitRun(t *testing.T, n int, timeout time.Duration, what string, cond func(observed) bool) (observed, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for i := n; i < len(r.list); i++ {
			if o := r.list[i]; cond(o) {
				r.mu.Unlock()
				return o, i
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	last := r.last()
	t.Fatalf("no run within %s where %s (%d runs; the last: err %v)", timeout, what, r.count(), last.err)
	return observed{}, 0
}

type started struct {
	op      *reconcile.Operator
	mgr     ctrl.Manager
	runs    *runs
	writes  *writes
	stopped chan struct{}
	cancel  context.CancelFunc
}

// startOperator runs an operator in a manager of its own until the test
// ends or cancel is called.
func startOperator(t *testing.T, cfg *source.Config, instance string, interval time.Duration, tune func(*ctrl.Options, *reconcile.Operator)) *started {
	t.Helper()
	rc, w := counted()
	opts := ctrl.Options{
		Scheme:                 scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers in one test process run a controller of one name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	op := &reconcile.Operator{Interval: interval}
	if tune != nil {
		tune(&opts, op)
	}
	mgr, err := ctrl.NewManager(rc, opts)
	if err != nil {
		t.Fatal(err)
	}
	namespace(t, "laiki-system")
	statusOf = instance + "-status" // tests run one at a time
	var ext reconcile.ExternalOptions
	if op.Reconciler != nil { // tune may set the registries' options
		ext = op.Reconciler.ExternalOptions
	}
	op.Reconciler = &reconcile.Reconciler{
		ExternalOptions: ext,
		Config:          cfg,
		Options:         pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
		Applier:         &reconcile.Applier{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Instance: instance},
		Cluster:         mgr.GetAPIReader(),
		Status:          mgr.GetClient(),
		StatusNamespace: "laiki-system",
		Recorder:        mgr.GetEventRecorderFor("laiki"),
	}
	s := &started{op: op, mgr: mgr, runs: &runs{}, writes: w, stopped: make(chan struct{})}
	var before int64
	op.OnRun = func(run *reconcile.Run, err error) {
		now := w.n.Load()
		s.runs.add(observed{run: run, err: err, writes: now - before})
		before = now
	}
	if err := op.Setup(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.stopped)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-s.stopped })
	return s
}

// statusOf is the status ConfigMap of the operator started last (each
// instance keeps its own).
var statusOf = reconcile.StatusConfigMap

func statusReport(t *testing.T) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: "laiki-system", Name: statusOf}, cm); err != nil {
		return err.Error()
	}
	return cm.Data["status.yaml"]
}

func sourceCondition(t *testing.T, name string) *metav1.Condition {
	t.Helper()
	var rep reconcile.Report
	if err := yaml.Unmarshal([]byte(statusReport(t)), &rep); err != nil {
		return nil
	}
	for _, s := range rep.Sources {
		if s.Name == name {
			return meta.FindStatusCondition(s.Conditions, v1alpha1.ReadyCondition)
		}
	}
	return nil
}

// The operator follows a team's Git repository: a new app file reaches the
// ShinyProxy resource within one poll interval and a removed one leaves it;
// an unchanged platform makes no write at all; a rejected update keeps the
// last accepted version running; a Git server that stops keeps what was
// deployed; an app applied as an object in the cluster joins the same
// engine, with its status on the object, and the same app from Git and from
// the cluster is refused naming both; a fresh start while Git is down
// applies nothing rather than remove running apps.
func TestOperatorFollowsGit(t *testing.T) {
	ctx := context.Background()
	const ns = "team-ops"
	root := t.TempDir()
	img := func(id string) string { return "registry.example.com/team/" + id + ":1" }
	_, work := gittest.Repo(t, root, "team", map[string]string{"apps/one.yaml": appFile(ns, "one", img("one"))})
	daemon, stopDaemon := gittest.Daemon(t, root)
	cfg := laikiConfig(t, ns, daemon+"/team.git")
	const interval = 2 * time.Second
	s := startOperator(t, cfg, "ops", interval, nil)

	eventually(t, 30*time.Second, func() bool { return ids(t, ns, "apps") == "one" }, func() string {
		return fmt.Sprintf("apps %q; last run: %+v", ids(t, ns, "apps"), s.runs.last().err)
	})
	sp, _ := shinyProxy(t, ns, "apps")
	if one := apps(sp)["one"]; one["container-memory-limit"] != "512Mi" {
		t.Errorf("app one without the platform's fallback: %v", one)
	}
	// Applied in the same run as the ShinyProxy resource, after it.
	claim := &corev1.PersistentVolumeClaim{}
	eventually(t, 10*time.Second, func() bool {
		return admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "crane-storage"}, claim) == nil
	}, func() string { return "no claim for the Crane target's storage" })
	if claim.Spec.AccessModes[0] != corev1.ReadWriteMany || claim.Spec.Resources.Requests.Storage().String() != "10Gi" {
		t.Errorf("claim: %+v", claim.Spec)
	}

	t.Run("new app within one poll interval", func(t *testing.T) {
		gittest.Commit(t, work, map[string]string{"apps/two.yaml": appFile(ns, "two", img("two"))}, "add two")
		took := eventually(t, interval+10*time.Second, func() bool { return ids(t, ns, "apps") == "one,two" }, func() string { return ids(t, ns, "apps") })
		t.Logf("a new app reached the ShinyProxy resource %s after the push (poll interval %s)", took.Round(time.Millisecond), interval)
		if took > interval+5*time.Second {
			t.Errorf("took %s, more than one poll interval (%s) and the run itself", took, interval)
		}
	})

	t.Run("removed app leaves", func(t *testing.T) {
		gittest.Commit(t, work, nil, "remove one", "apps/one.yaml")
		eventually(t, interval+10*time.Second, func() bool { return ids(t, ns, "apps") == "two" }, func() string { return ids(t, ns, "apps") })
	})

	t.Run("no change, no write", func(t *testing.T) {
		// Once a run finds nothing to change, the events of the runs before
		// it (sent in the background) have landed; the next run is watched.
		_, settled := s.runs.waitRun(t, s.runs.count(), 4*interval+10*time.Second, "nothing to change", func(o observed) bool {
			return o.err == nil && o.run.Outcome.Writes() == 0
		})
		o, _ := s.runs.waitRun(t, settled+1, 2*interval+10*time.Second, "the run after", func(observed) bool { return true })
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.writes != 0 || o.run.Outcome.Writes() != 0 {
			t.Errorf("a reconcile of an unchanged platform wrote %d requests (%d object writes): %v; the latest writes: %v", o.writes, o.run.Outcome.Writes(), o.run.Outcome.Changes, s.writes.recent())
		}
	})

	t.Run("rejected update keeps the last accepted version", func(t *testing.T) {
		n := s.runs.count()
		gittest.Commit(t, work, map[string]string{"apps/two.yaml": appFile(ns, "two", "not an image")}, "break two")
		o, _ := s.runs.waitRun(t, n, interval+10*time.Second, "app two is held", func(o observed) bool { return o.run != nil && len(o.run.Held) == 1 })
		if o.run.Held[0].ID != "two" {
			t.Errorf("held %s, want two", o.run.Held[0].Key())
		}
		sp, _ := shinyProxy(t, ns, "apps")
		if two := apps(sp)["two"]; two == nil || two["container-image"] != img("two") {
			t.Errorf("app two is not running its last accepted version: %v", two)
		}
		eventually(t, 10*time.Second, func() bool {
			var rep reconcile.Report
			_ = yaml.Unmarshal([]byte(statusReport(t)), &rep)
			for _, d := range rep.NotReady {
				if d.File == "apps/two.yaml" && d.Source == "team-a" && d.Reason == v1alpha1.LastAcceptedVersionKeptReason && strings.Contains(d.Message, "not a valid image reference") {
					return true
				}
			}
			return false
		}, func() string { return statusReport(t) })
	})

	t.Run("Git server stops", func(t *testing.T) {
		n := s.runs.count()
		stopDaemon()
		s.runs.waitRun(t, n, interval+10*time.Second, "team-a is kept at its last good read", func(o observed) bool { return o.run != nil && len(o.run.Kept) == 1 })
		if got := ids(t, ns, "apps"); got != "two" {
			t.Errorf("apps %q while Git is down, want two", got)
		}
		eventually(t, 10*time.Second, func() bool {
			c := sourceCondition(t, "team-a")
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.LastGoodRevisionKeptReason
		}, func() string { return statusReport(t) })
	})

	t.Run("apps from the cluster", func(t *testing.T) {
		three := clusterApp(ns, "three", "three", img("three"))
		if err := admin.Create(ctx, three); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, func() bool { return ids(t, ns, "apps") == "three,two" }, func() string { return ids(t, ns, "apps") })
		// Applied is not serving: Progressing until the ShinyProxy
		// operator and the DaemonSet controller say so (envtest runs
		// neither: the test writes their statuses, as they would).
		eventually(t, 10*time.Second, func() bool {
			c := objectReady(t, three)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.ProgressingReason
		}, func() string { return fmt.Sprint(objectReady(t, three)) })
		serve(t, kube.Name(ns), "apps", "pre-puller")
		eventually(t, 10*time.Second, func() bool {
			c := objectReady(t, three)
			return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == 1
		}, func() string { return fmt.Sprint(objectReady(t, three)) })
		// A node that cannot pull the app's image: on the app, with the node.
		pullFails(t, kube.Name(ns), "pre-puller", img("three"), "node-7")
		eventually(t, 10*time.Second, func() bool {
			c := objectReady(t, three)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.ImagePullFailedReason && strings.Contains(c.Message, "node-7")
		}, func() string { return fmt.Sprint(objectReady(t, three)) })

		dup := clusterApp(ns, "two-again", "two", img("two"))
		if err := admin.Create(ctx, dup); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, func() bool {
			c := objectReady(t, dup)
			// team-a's app had the id first: the cluster object's claim is refused, naming it.
			return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "belongs to source team-a") && strings.Contains(c.Message, "apps/two.yaml")
		}, func() string { return fmt.Sprint(objectReady(t, dup)) })
	})

	t.Run("metrics", func(t *testing.T) {
		families, err := metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				name := f.GetName()
				for _, l := range m.GetLabel() {
					name += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
				switch {
				case m.GetHistogram() != nil:
					got[name] = float64(m.GetHistogram().GetSampleCount())
				case m.GetCounter() != nil:
					got[name] = m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					got[name] = m.GetGauge().GetValue()
				}
			}
		}
		for _, name := range []string{"laiki_reconcile_duration_seconds", "laiki_source_fetch_failures_total{source=team-a}",
			"laiki_apply_writes_total{op=update}", "laiki_resources{verdict=accepted}", "laiki_resources{verdict=held}"} {
			if got[name] <= 0 {
				t.Errorf("metric %s = %v, want > 0", name, got[name])
			}
		}
	})

	t.Run("fresh start while Git is down", func(t *testing.T) {
		before, _ := shinyProxy(t, ns, "apps")
		r := &reconcile.Reconciler{
			Config:  cfg,
			Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
			Applier: &reconcile.Applier{Client: admin, Reader: admin, Instance: "ops"},
			Cluster: admin,
		}
		_, err := r.Reconcile(ctx)
		if !errors.Is(err, reconcile.ErrSourceNeverRead) {
			t.Fatalf("want ErrSourceNeverRead, got %v", err)
		}
		after, _ := shinyProxy(t, ns, "apps")
		if before.GetResourceVersion() != after.GetResourceVersion() {
			t.Error("a reconcile that never read a source changed the ShinyProxy resource")
		}
	})

	t.Run("fresh start while Git is down, with the memory in the cluster", func(t *testing.T) {
		// The platform changes; team-a's Git is still down, and this
		// reconciler (a restarted operator) has never read it.
		running := ids(t, ns, "apps")
		spFile := filepath.Join(cfg.Sources[0].Path, "shinyproxy.yaml")
		text, err := os.ReadFile(spFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(spFile, []byte(strings.Replace(string(text), "title: Apps", "title: Apps, restarted", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &reconcile.Reconciler{
			Config:  cfg,
			Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}},
			Applier: &reconcile.Applier{Client: admin, Reader: admin, Instance: "ops"},
			Cluster: admin, Status: admin, StatusNamespace: "laiki-system",
		}
		run, err := r.Reconcile(ctx)
		if err != nil {
			t.Fatalf("one unreachable source must not stop the others: %v", err)
		}
		u, _ := shinyProxy(t, ns, "apps")
		title, _, _ := unstructured.NestedString(u.Object, "spec", "proxy", "title")
		if title != "Apps, restarted" {
			t.Errorf("the platform's change must apply: title %q", title)
		}
		if got := ids(t, ns, "apps"); got != running {
			t.Errorf("team-a's apps must keep running: %q, want %q", got, running)
		}
		if len(run.Unread) != 1 || run.Unread[0] != "team-a" {
			t.Errorf("unread %v", run.Unread)
		}
	})
}

// clusterApp is a ShinyProxyApp object bound to the test platform's target.
func clusterApp(ns, name, id, image string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp",
		"metadata": map[string]any{"name": name, "namespace": kube.Name(ns)},
		"spec":     map[string]any{"targetName": "apps", "id": id, "container-image": image},
	}}
	return u
}

func objectReady(t *testing.T, obj *unstructured.Unstructured) *metav1.Condition {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	if err := admin.Get(context.Background(), client.ObjectKeyFromObject(obj), u); err != nil {
		return nil
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range raw {
		m, _ := c.(map[string]any)
		if m["type"] == v1alpha1.ReadyCondition {
			gen, _ := m["observedGeneration"].(int64)
			msg, _ := m["message"].(string)
			return &metav1.Condition{Type: v1alpha1.ReadyCondition, Status: metav1.ConditionStatus(fmt.Sprint(m["status"])), Reason: fmt.Sprint(m["reason"]), Message: msg, ObservedGeneration: gen}
		}
	}
	return nil
}

// A push from the Git host starts a run at once, long before the poll
// interval; a push without the shared secret is refused.
func TestPushStartsRun(t *testing.T) {
	const ns = "team-push"
	root := t.TempDir()
	_, work := gittest.Repo(t, root, "team", map[string]string{"apps/one.yaml": appFile(ns, "one", "registry.example.com/team/one:1")})
	daemon, _ := gittest.Daemon(t, root)
	addr := fmt.Sprintf("127.0.0.1:%d", gittest.FreePort(t))
	const secret = "push-secret"
	startOperator(t, laikiConfig(t, ns, daemon+"/team.git"), "push", time.Hour, func(_ *ctrl.Options, op *reconcile.Operator) {
		op.PushAddress, op.PushSecret = addr, secret
	})
	eventually(t, 30*time.Second, func() bool { return ids(t, ns, "apps") == "one" }, func() string { return ids(t, ns, "apps") })
	gittest.Commit(t, work, map[string]string{"apps/two.yaml": appFile(ns, "two", "registry.example.com/team/two:1")}, "add two")

	post := func(header, value string, body string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+reconcile.PushPath, strings.NewReader(body))
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("", "", "{}"); code != http.StatusUnauthorized {
		t.Errorf("a push without the secret: %d, want 401", code)
	}
	if code := post("X-Hub-Signature-256", "sha256=00", "{}"); code != http.StatusUnauthorized {
		t.Errorf("a push with a wrong signature: %d, want 401", code)
	}
	time.Sleep(time.Second)
	if got := ids(t, ns, "apps"); got != "one" {
		t.Fatalf("a refused push started a run: apps %q", got)
	}
	body := `{"ref":"refs/heads/main"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	if code := post("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)), body); code != http.StatusAccepted {
		t.Fatalf("a signed push: %d, want 202", code)
	}
	took := eventually(t, 15*time.Second, func() bool { return ids(t, ns, "apps") == "one,two" }, func() string { return ids(t, ns, "apps") })
	t.Logf("the pushed app was applied %s after the push", took.Round(time.Millisecond))
}

// Two replicas elect one leader, and only the leader reconciles; when it
// stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	cfg := laikiConfig(t, "team-le", "")
	namespace(t, "laiki-system")
	elect := func(o *ctrl.Options, _ *reconcile.Operator) {
		o.LeaderElection = true
		o.LeaderElectionID = "laiki-test-operator"
		o.LeaderElectionNamespace = "laiki-system"
		o.LeaderElectionReleaseOnCancel = true
		o.LeaseDuration = ptr.To(3 * time.Second)
		o.RenewDeadline = ptr.To(2 * time.Second)
		o.RetryPeriod = ptr.To(200 * time.Millisecond)
	}
	a := startOperator(t, cfg, "le", time.Second, elect)
	b := startOperator(t, cfg, "le", time.Second, elect)
	isLeader := func(s *started) bool {
		select {
		case <-s.mgr.Elected():
			return true
		default:
			return false
		}
	}
	eventually(t, 20*time.Second, func() bool { return isLeader(a) || isLeader(b) }, func() string { return "no leader" })
	leader, follower := a, b
	if isLeader(b) {
		leader, follower = b, a
	}
	time.Sleep(3 * time.Second)
	if isLeader(follower) {
		t.Fatal("both replicas lead")
	}
	if leader.runs.count() == 0 || follower.runs.count() != 0 {
		t.Fatalf("runs: leader %d, follower %d; only the leader may reconcile", leader.runs.count(), follower.runs.count())
	}
	leader.cancel()
	<-leader.stopped
	eventually(t, 20*time.Second, func() bool { return isLeader(follower) && follower.runs.count() > 0 }, func() string {
		return fmt.Sprintf("the other replica did not take over (leader %v, runs %d)", isLeader(follower), follower.runs.count())
	})
}

// The chart's push Service selects every replica: a push to the replica
// that does not lead is passed to the leader (through a ConfigMap it
// watches) and starts a run there; a GitHub ping is answered and ignored.
func TestPushToEitherReplica(t *testing.T) {
	const ns = "team-push2"
	root := t.TempDir()
	_, work := gittest.Repo(t, root, "team", map[string]string{"apps/one.yaml": appFile(ns, "one", "registry.example.com/team/one:1")})
	daemon, _ := gittest.Daemon(t, root)
	cfg := laikiConfig(t, ns, daemon+"/team.git")
	namespace(t, "laiki-system")
	const secret = "push-secret"
	addrs := map[*started]string{}
	start := func() *started {
		addr := fmt.Sprintf("127.0.0.1:%d", gittest.FreePort(t))
		s := startOperator(t, cfg, "push2", time.Hour, func(o *ctrl.Options, op *reconcile.Operator) {
			o.LeaderElection = true
			o.LeaderElectionID = "laiki-test-push2"
			o.LeaderElectionNamespace = "laiki-system"
			o.LeaderElectionReleaseOnCancel = true
			o.LeaseDuration = ptr.To(3 * time.Second)
			o.RenewDeadline = ptr.To(2 * time.Second)
			o.RetryPeriod = ptr.To(200 * time.Millisecond)
			op.PushAddress, op.PushSecret = addr, secret
		})
		addrs[s] = addr
		return s
	}
	a, b := start(), start()
	leads := func(s *started) bool {
		select {
		case <-s.mgr.Elected():
			return true
		default:
			return false
		}
	}
	eventually(t, 20*time.Second, func() bool { return (leads(a) || leads(b)) && ids(t, ns, "apps") == "one" }, func() string { return "no leader, or no first run" })
	follower := b
	if leads(b) {
		follower = a
	}
	time.Sleep(2 * time.Second) // the leader's watch has seen the ConfigMap as it is
	post := func(event string) int {
		body := `{"ref":"refs/heads/main"}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+addrs[follower]+reconcile.PushPath, strings.NewReader(body))
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-GitHub-Event", event)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	gittest.Commit(t, work, map[string]string{"apps/two.yaml": appFile(ns, "two", "registry.example.com/team/two:1")}, "add two")
	if code := post("ping"); code != http.StatusOK {
		t.Errorf("a ping: %d, want 200 (ignored)", code)
	}
	time.Sleep(2 * time.Second)
	if got := ids(t, ns, "apps"); got != "one" {
		t.Fatalf("a ping started a run: apps %q", got)
	}
	if code := post("push"); code != http.StatusAccepted {
		t.Fatalf("a push to the replica that does not lead: %d, want 202", code)
	}
	eventually(t, 15*time.Second, func() bool { return ids(t, ns, "apps") == "one,two" }, func() string { return ids(t, ns, "apps") })
}

// serve writes what the ShinyProxy operator and the DaemonSet controller
// would once the configuration runs: a latest instance, and a rollout on
// every node.
func serve(t *testing.T, ns, shinyProxyName, prePuller string) {
	t.Helper()
	ctx := context.Background()
	u, err := shinyProxy(t, ns, shinyProxyName)
	if err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = map[string]any{"instances": []any{map[string]any{"hashOfSpec": "h1", "isLatestInstance": true, "revision": int64(0)}}}
	if err := admin.Status().Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	ds := &appsv1.DaemonSet{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: prePuller}, ds); err != nil {
		t.Fatal(err)
	}
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
		UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
	if err := admin.Status().Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
}

// pullFails makes a PrePuller pod on a node whose kubelet cannot pull an
// image, as the kubelet reports it.
func pullFails(t *testing.T, ns, prePuller, image, node string) {
	t.Helper()
	ctx := context.Background()
	ds := &appsv1.DaemonSet{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: prePuller}, ds); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: prePuller + "-" + node, Namespace: ns, Labels: ds.Spec.Selector.MatchLabels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "pull", Image: image}}}}
	if err := admin.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), pod) })
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pull", Image: image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied"}}}}
	if err := admin.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// The pod is not ready, so neither is the DaemonSet (as its controller says).
	ds.Status.NumberReady, ds.Status.NumberUnavailable = 0, 1
	if err := admin.Status().Update(ctx, ds); err != nil {
		t.Fatal(err)
	}
}
