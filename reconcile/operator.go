package reconcile

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
	ctrlsource "sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/laiki-platform/laiki/engine/cluster"
)

// Operator runs the Reconciler in a controller-runtime manager: on a change
// to a Laiki object in the cluster, on every poll interval, and on a push
// from the Git host. Every trigger is the same single work item, so runs
// never overlap and a burst of pushes makes one run; a failed run is
// retried with exponential backoff. Only the elected leader reconciles.
type Operator struct {
	Reconciler *Reconciler
	// Interval between two reads of the sources (default one minute).
	Interval time.Duration
	// PushAddress serves the push endpoint (POST /hooks/git); empty or "0"
	// serves none.
	PushAddress string
	// PushSecret, when set, is what a push must prove it knows: GitHub's
	// X-Hub-Signature-256 (HMAC-SHA256 of the body), or GitLab's
	// X-Gitlab-Token and Laiki's X-Laiki-Token (the secret itself).
	PushSecret string

	trigger chan event.GenericEvent
	// OnRun, if set, is called after every run (for tests and logs).
	OnRun func(*Run, error)

	// elected is closed once this replica leads; a push to a replica that
	// does not is relayed to the leader through the ConfigMap pushName in
	// the reconciler's StatusNamespace, which the leader watches.
	elected  <-chan struct{}
	lastPush string
}

// pushName is the ConfigMap a replica that does not lead records a push in.
func (o *Operator) pushName() string { return o.Reconciler.Applier.instance() + "-push" }

// PushPath is where a Git host's push webhook is served.
const PushPath = "/hooks/git"

var platformRequest = crreconcile.Request{NamespacedName: k8stypes.NamespacedName{Name: "platform"}}

// Setup adds the controller, and the push endpoint, to a manager.
func (o *Operator) Setup(mgr ctrl.Manager) error {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Reconciler.Log.GetSink() == nil {
		o.Reconciler.Log = mgr.GetLogger().WithName("reconcile")
	}
	o.trigger = make(chan event.GenericEvent, 1)
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []crreconcile.Request {
		return []crreconcile.Request{platformRequest}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("laiki").
		WithOptions(controller.Options{
			MaxConcurrentReconciles: 1,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[crreconcile.Request](time.Second, 5*time.Minute),
		}).
		WatchesRawSource(ctrlsource.Channel(o.trigger, one))
	// A change to the spec of a Laiki object (not to its status, which
	// the reconcile itself writes) starts a run.
	for _, kind := range cluster.Kinds() {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(cluster.GVK(kind))
		b = b.Watches(u, one, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	if err := b.Complete(crreconcile.Func(o.reconcile)); err != nil {
		return err
	}
	// The first run, as soon as this replica leads.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		o.Trigger()
		<-ctx.Done()
		return nil
	})); err != nil {
		return err
	}
	o.elected = mgr.Elected()
	if o.PushAddress != "" && o.PushAddress != "0" {
		if err := mgr.Add(&pushServer{addr: o.PushAddress, handler: o.PushHandler()}); err != nil {
			return err
		}
		// The leader watches for pushes other replicas took.
		if o.Reconciler.Status != nil && o.Reconciler.StatusNamespace != "" {
			return mgr.Add(manager.RunnableFunc(o.watchPushes))
		}
	}
	return nil
}

// leads reports whether this replica is the elected leader.
func (o *Operator) leads() bool {
	if o.elected == nil {
		return true
	}
	select {
	case <-o.elected:
		return true
	default:
		return false
	}
}

// relay records a push for the leader: the time in the ConfigMap pushName.
func (o *Operator) relay(ctx context.Context) error {
	r := o.Reconciler
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: r.StatusNamespace, Name: o.pushName()}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err := r.Status.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		cm.Name, cm.Namespace = key.Name, key.Namespace
		cm.Labels = map[string]string{LabelManagedBy: "laiki", LabelInstance: r.Applier.instance()}
		cm.Data = map[string]string{"pushed-at": now}
		return r.Status.Create(ctx, cm)
	}
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["pushed-at"] = now
	return r.Status.Update(ctx, cm)
}

// watchPushes, on the leader (a runnable that needs the lease), starts a
// run whenever another replica records a push.
func (o *Operator) watchPushes(ctx context.Context) error {
	r := o.Reconciler
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// lastPush: "" before the first look (a push recorded before
		// this replica led is not one to run for), "-" when there was none.
		cm := &corev1.ConfigMap{}
		err := r.Status.Get(ctx, client.ObjectKey{Namespace: r.StatusNamespace, Name: o.pushName()}, cm)
		switch at := cm.Data["pushed-at"]; {
		case apierrors.IsNotFound(err):
			o.lastPush = "-"
		case err != nil || at == "" || at == o.lastPush:
		case o.lastPush == "":
			o.lastPush = at
		default:
			o.lastPush = at
			o.Trigger()
		}
	}
}

// Trigger asks for a run soon; triggers that come while one is pending
// make one run.
func (o *Operator) Trigger() {
	select {
	case o.trigger <- event.GenericEvent{Object: &unstructured.Unstructured{}}:
	default:
	}
}

func (o *Operator) reconcile(ctx context.Context, _ crreconcile.Request) (crreconcile.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	run, err := o.Reconciler.Reconcile(ctx)
	if o.OnRun != nil {
		o.OnRun(run, err)
	}
	if err != nil {
		log.Error(err, "reconcile applied nothing")
		return crreconcile.Result{}, err
	}
	s := run.Result.Summary()
	kv := []any{"duration", run.Duration.Round(time.Millisecond).String(), "fetch", run.Fetch.Round(time.Millisecond).String(), "accepted", s.Accepted, "rejected", s.Rejected,
		"held", len(run.Held), "auditViolations", len(run.Audit), "writes", run.Outcome.Writes(), "targetsRendered", len(run.Rendered), "applyErrors", len(run.Outcome.Errors()),
		"policies", run.Result.Policies.Revision}
	if rl := run.Result.Reload; rl.Refused() && run.PoliciesChanged {
		log.Error(rl.Err, "policies refused; the set in force stays", "refused", rl.Revision, "inForce", rl.InForce)
	}
	for _, l := range run.Result.Sources {
		if l.Revision != "" {
			kv = append(kv, "revision."+l.Source.Name, l.Revision)
		}
	}
	log.Info("reconciled", kv...)
	for _, c := range run.External {
		if c.Err != nil && !c.Terminal { // a permanent failure waits for a change, not a retry
			// Retried with backoff; the other repositories are done.
			return crreconcile.Result{}, errors.New("an external resource could not be made: " + c.String())
		}
	}
	if errs := run.Outcome.Errors(); len(errs) > 0 {
		// Retried with backoff; what did apply stays applied.
		return crreconcile.Result{}, errors.New("some objects could not be applied: " + errs[0].String())
	}
	return crreconcile.Result{RequeueAfter: o.Interval}, nil
}

// PushHandler answers a Git host's push webhook by starting a run.
func (o *Operator) PushHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST a push event here", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "could not read the body", http.StatusBadRequest)
			return
		}
		if o.PushSecret != "" && !o.authentic(req, body) {
			http.Error(w, "the push does not carry the shared secret", http.StatusUnauthorized)
			return
		}
		// Only pushes start runs: GitHub's ping, GitLab's merge request
		// and other hooks are answered and ignored.
		if ev := req.Header.Get("X-GitHub-Event"); ev != "" && ev != "push" {
			_, _ = io.WriteString(w, "not a push: ignored\n")
			return
		}
		if ev := req.Header.Get("X-Gitlab-Event"); ev != "" && ev != "Push Hook" && ev != "Tag Push Hook" {
			_, _ = io.WriteString(w, "not a push: ignored\n")
			return
		}
		if o.leads() {
			o.Trigger()
		} else if err := o.relay(req.Context()); err != nil {
			http.Error(w, "the push could not be passed to the leader: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "a reconcile is on its way\n")
	})
}

func (o *Operator) authentic(req *http.Request, body []byte) bool {
	if sig := req.Header.Get("X-Hub-Signature-256"); sig != "" {
		mac := hmac.New(sha256.New, []byte(o.PushSecret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		return hmac.Equal([]byte(sig), []byte(want))
	}
	for _, h := range []string{"X-Gitlab-Token", "X-Laiki-Token"} {
		if tok := req.Header.Get(h); tok != "" {
			return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(o.PushSecret)) == 1
		}
	}
	return false
}

// pushServer serves the push endpoint on every replica (the chart's push
// Service selects them all): the leader runs, the others relay the push.
type pushServer struct {
	addr    string
	handler http.Handler
}

// NeedLeaderElection: every replica takes pushes.
func (*pushServer) NeedLeaderElection() bool { return false }

func (p *pushServer) Start(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle(PushPath, p.handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
