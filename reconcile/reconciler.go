// Package reconcile is the third place the engine runs, after `laiki check`
// and the admission webhook: it reads the sources and the Laiki objects in
// the cluster, runs the same admission and the same workflows, and makes
// the cluster match (server-side apply, prune of what Laiki made and no
// longer wants). `laiki apply` runs it once; `laiki operator` runs it on
// every change, on a poll interval and on a push from the Git host.
//
// It never loses an app on the way: a source that cannot be fetched keeps
// its last good read, a source never read stops the apply altogether, and a
// rejected new version of a resource leaves its last accepted version
// deployed.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Reconciler runs the pipeline and applies its result. One Reconciler keeps
// what earlier runs had (the last good read of each source, the last
// accepted version of each resource); its runs are serialised.
type Reconciler struct {
	Config  *source.Config
	Options pipeline.Options
	Applier *Applier
	// Cluster reads the Laiki objects in the cluster; nil reads none.
	Cluster client.Reader
	// Status writes conditions on those objects and the status ConfigMap;
	// nil writes no status.
	Status client.Client
	// StatusNamespace holds the ConfigMap laiki-status, the status of the
	// sources and of what they declare (documents from Git have no object
	// of their own); empty writes none.
	StatusNamespace string
	// Recorder makes Kubernetes Events on changes and failures; nil makes none.
	Recorder record.EventRecorder
	Log      logr.Logger
	// ExternalOptions configure the provisioners of resources outside the
	// cluster (ECR).
	ExternalOptions ExternalOptions
	// Now is the clock a run renders by (the PrePuller's refresh); nil is
	// time.Now. Tests set it (`laiki apply --now`).
	Now func() time.Time

	mu           sync.Mutex
	lastSources  map[string]*source.Loaded
	lastAccepted map[string]*pipeline.Resource
	provisioners map[string]Provisioner
	// memoryRead: lastAccepted was read from the ConfigMap laiki-accepted
	// (once, at the first run); savedAccepted is the hash last written.
	memoryRead    bool
	savedAccepted [32]byte
	// lastPolicies is what the last run read and had in force, to tell
	// when that changes.
	lastPolicies [2]string
	// renders: each target's last render, reused while nothing it was
	// rendered from changes.
	renders workflow.Renders
}

// Run is what one reconcile found and did.
type Run struct {
	Result *pipeline.Result
	// Desired is the desired state; once applied, each target's objects
	// are only their identities (Desired.Shed).
	Desired *workflow.Desired
	Outcome *Outcome
	// External lists what the provisioners did (ECR repositories).
	External []ExternalChange
	// PoliciesChanged is set on the first run that decides with a policy
	// set, or that reads a set that is refused: events, metrics and logs
	// tell of it once. (The Reload's own New is no use here: the webhook
	// shares the gate and may have judged the set first.)
	PoliciesChanged bool
	// Kept lists the sources that failed and were read as last time.
	Kept []*source.Loaded
	// Unread lists the sources that failed with no read since the start to
	// stand in: their last accepted resources are held.
	Unread []string
	// Serving is what the targets' components report (nil in a dry run).
	Serving *Serving
	// Held lists resources rejected now whose last accepted version stays.
	Held []*pipeline.Resource
	// Audit lists the running resources that the policies in force would
	// reject, unchanged since other policies accepted them: they keep
	// running (they are among Held) until the platform decides.
	Audit []Violation
	// Objects maps documents read from the cluster to their objects.
	Objects map[*document.Document]*unstructured.Unstructured
	// Rendered lists the targets ("namespace/name") whose workflows ran;
	// the others' inputs had not changed, and they rendered as last run.
	Rendered []string
	Duration time.Duration
	// Fetch is the part of Duration spent reading the sources.
	Fetch time.Duration
}

// ErrSourceNeverRead stops a reconcile: a source that has never been read
// may hold apps that are running, and applying without it would remove them.
var ErrSourceNeverRead = errors.New("a source has never been read")

// Reconcile runs the pipeline once and makes the cluster match. An error
// means nothing was applied (the engine could not run, a source was never
// read, the cluster could not be listed); failures to apply single objects
// are in the Run's Outcome.
func (r *Reconciler) Reconcile(ctx context.Context) (*Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	run := &Run{}
	defer func() { run.Duration = time.Since(start); observe(run) }()

	opts, err := r.runOptions(ctx, run)
	if err != nil {
		return run, err
	}
	res, err := pipeline.Run(ctx, opts)
	if err != nil {
		return run, err
	}
	run.Result = res
	r.notePolicies(run, res)
	never := neverRead(res.Sources)
	if len(never) > 0 && (r.Status == nil || r.StatusNamespace == "") {
		// No memory of what the source owned: applying without it would
		// remove its running apps.
		err := fmt.Errorf("%w: %s; nothing applied until it is, so that no running app is removed", ErrSourceNeverRead, strings.Join(never, ", "))
		r.writeStatus(ctx, run, err)
		return run, err
	}
	r.renderDesired(ctx, run, never)
	if err := r.applyDesired(ctx, run, never); err != nil {
		return run, err
	}
	r.writeStatus(ctx, run, nil)
	r.events(run)
	return run, nil
}

// runOptions are the engine's options for a run: the gate and decisions
// kept from run to run, a loader that keeps each source's last good read,
// the Laiki objects in the cluster, and who owns each name by the last
// accepted versions.
func (r *Reconciler) runOptions(ctx context.Context, run *Run) (pipeline.Options, error) {
	if r.Options.Gate == nil {
		r.Options.Gate = &policy.Gate{}
	}
	if r.Options.Decisions == nil {
		// A run judges only what changed since the last one.
		r.Options.Decisions = &pipeline.Decisions{}
	}
	if r.Options.Parses == nil {
		// And reads only the files that changed.
		r.Options.Parses = &pipeline.Parses{}
	}
	opts := r.Options
	opts.Config = r.Config
	if opts.Load.ConfigMaps == nil && r.Cluster != nil {
		opts.Load.ConfigMaps = cluster.ConfigMaps(r.Cluster)
	}
	// A Git source fetched at the commit of its last good read is taken
	// from that read (source.Options.Previous). Runs are serialised: the
	// map is only written after the sources are loaded.
	opts.Load.Previous = func(s *source.Source) *source.Loaded { return r.lastSources[s.Name] }
	opts.Loader = func(ctx context.Context, cfg *source.Config, lo source.Options) []*source.Loaded {
		fetchStart := time.Now()
		loaded := source.Load(ctx, cfg, lo)
		run.Fetch = time.Since(fetchStart)
		for _, l := range loaded {
			if l.Failed {
				fetchFailures.WithLabelValues(l.Source.Name).Inc()
			}
		}
		run.Kept = r.keepLastGood(loaded)
		return loaded
	}
	if r.Cluster != nil {
		docs, objects, err := cluster.Documents(ctx, r.Cluster, r.Config)
		if err != nil {
			return opts, err
		}
		opts.Documents, run.Objects = docs, objects
	}
	// What was accepted before (kept in the cluster, so it outlives a
	// restart) says who owns each name: read before the run judges claims.
	if err := r.readAcceptedOnce(ctx); err != nil {
		return opts, err
	}
	opts.Owners = owners(r.lastAccepted)
	return opts, nil
}

// readAcceptedOnce reads the last accepted versions from the cluster at the
// first run. Only an error of the API server stops the run: versions that
// do not read back are logged, and nothing is held from before.
func (r *Reconciler) readAcceptedOnce(ctx context.Context) error {
	if r.memoryRead {
		return nil
	}
	mem, err := r.loadAccepted(ctx)
	var apiErr apierrors.APIStatus
	if errors.As(err, &apiErr) {
		return fmt.Errorf("reading the last accepted versions (ConfigMap %s): %w", r.acceptedName(), err)
	}
	if err != nil {
		r.Log.Error(err, "the last accepted versions do not read back; nothing is held from before this start")
	}
	if r.lastAccepted == nil {
		r.lastAccepted = mem
	}
	r.memoryRead = true
	return nil
}

// notePolicies marks the run that first decides with a policy set, or
// reads one that is refused.
func (r *Reconciler) notePolicies(run *Run, res *pipeline.Result) {
	if rl := res.Reload; rl != nil {
		now := [2]string{rl.Revision, rl.InForce}
		run.PoliciesChanged = now != r.lastPolicies
		r.lastPolicies = now
	}
}

// renderDesired holds the last accepted version of what is rejected now (and of
// what the sources never read own), renders the desired state, and audits
// what the policies in force would reject.
func (r *Reconciler) renderDesired(ctx context.Context, run *Run, never []string) {
	res := run.Result
	run.Held = res.Hold(r.lastAccepted)
	// A source not read since the start holds back only what it owned (its
	// last accepted versions keep running); the others apply.
	run.Held = append(run.Held, res.HoldUnread(r.lastAccepted, never)...)
	run.Unread = never
	// Encoded: each target's objects kept as JSON, not as rendered trees,
	// until they are applied.
	render := workflow.Options{Now: r.now(), Encoded: true, Renders: &r.renders}
	defer func() {
		run.Rendered = r.renders.Rendered()
		r.renders.Sweep()
	}()
	run.Desired = workflow.RenderAndJudgeWith(res, render)
	// A workflow may take back what the policies accepted (a data
	// repository that cannot be had, a value the ShinyProxy operator's CRD
	// refuses): that new version is rejected as surely, and the running
	// one is held as above, then rendered in its place.
	if more := res.Hold(r.lastAccepted); len(more) > 0 {
		run.Held = append(run.Held, more...)
		run.Desired = workflow.RenderWith(res, render)
	}
	run.Audit = audit(res, run.Held)
	r.checkPullSecrets(ctx, run)
}

// applyDesired makes the cluster and the provisioners match the desired state and,
// unless in a dry run, reads what the targets serve and remembers what was
// accepted, in memory and in the cluster.
func (r *Reconciler) applyDesired(ctx context.Context, run *Run, never []string) error {
	objs, err := r.Applier.Objects(run.Desired)
	if err != nil {
		return err
	}
	// The objects are converted: from here on the run reads only which
	// objects the targets have (serving), not their rendered trees.
	run.Desired.Shed()
	run.Outcome = r.Applier.Apply(ctx, objs)
	run.External = r.externals(ctx, run.Desired.External, run.Result)
	if !r.Applier.DryRun {
		run.Serving = r.serving(ctx, run)
		r.remember(run.Result, never)
		if err := r.saveAccepted(ctx); err != nil {
			r.Log.Error(err, "writing the last accepted versions", "configMap", r.acceptedName())
		}
	}
	return nil
}

// keepLastGood puts the last good read in place of each source that failed
// now, with the failure still reported, and remembers each good read.
func (r *Reconciler) keepLastGood(loaded []*source.Loaded) []*source.Loaded {
	if r.lastSources == nil {
		r.lastSources = map[string]*source.Loaded{}
	}
	var kept []*source.Loaded
	for i, l := range loaded {
		if !l.Failed {
			if !r.Applier.DryRun {
				r.lastSources[l.Source.Name] = l
			}
			continue
		}
		prev, ok := r.lastSources[l.Source.Name]
		if !ok {
			continue
		}
		k := *prev
		k.Failed = false
		k.Findings = append([]finding.Finding(nil), l.Findings...)
		for j := range k.Findings {
			if k.Findings[j].Policy == finding.CheckSource && k.Findings[j].Severity == finding.Error {
				k.Findings[j].Message += fmt.Sprintf("; keeping what was read last (%s)", describeRevision(prev))
			}
		}
		loaded[i] = &k
		kept = append(kept, &k)
	}
	return kept
}

func describeRevision(l *source.Loaded) string {
	if l.Revision == "" {
		return "the last read"
	}
	return "revision " + l.Revision
}

func neverRead(loaded []*source.Loaded) []string {
	var out []string
	for _, l := range loaded {
		if l.Failed {
			out = append(out, l.Source.Name)
		}
	}
	sort.Strings(out)
	return out
}

// remember keeps the accepted version of every resource for the next runs,
// and forgets resources that are gone: a removed file removes its app.
func (r *Reconciler) remember(res *pipeline.Result, unread []string) {
	next := map[string]*pipeline.Resource{}
	// What a source that could not be read owned is not gone: kept.
	for key, prev := range r.lastAccepted {
		if slices.Contains(unread, prev.Doc.Source.Name) {
			next[key] = prev
		}
	}
	for _, x := range res.Resources {
		if x.ID == "" {
			continue
		}
		switch {
		case x.Accepted && !x.Held:
			next[x.Key()] = x
		case !x.Accepted:
			if prev, ok := r.lastAccepted[x.Key()]; ok {
				if _, taken := next[x.Key()]; !taken {
					next[x.Key()] = prev
				}
			}
		}
	}
	r.lastAccepted = next
}

// Violation is a running resource that the policies in force reject: the
// same document other policies accepted. As Gatekeeper's audit and
// Kyverno's background scan report, not remove: it keeps running until the
// platform decides (fixes the app, makes an exception, or removes it).
type Violation struct {
	Resource *pipeline.Resource // the version running (held)
	// AcceptedBy is the policy revision that accepted it; RejectedBy the one
	// in force.
	AcceptedBy, RejectedBy string
	Findings               []finding.Finding
}

// audit finds, among the held resources, those whose document has not
// changed since it was accepted: the policies changed under them.
func audit(res *pipeline.Result, held []*pipeline.Resource) []Violation {
	current := map[string]*pipeline.Resource{}
	for _, x := range res.Resources {
		if !x.Held && !x.Accepted && x.ID != "" {
			current[x.Key()] = x
		}
	}
	var out []Violation
	for _, h := range held {
		cur, ok := current[h.Key()]
		if !ok || h.PolicyRevision == res.Policies.Revision ||
			!reflect.DeepEqual(cur.Doc.Spec, h.Doc.Spec) || !reflect.DeepEqual(cur.Doc.Metadata, h.Doc.Metadata) {
			continue
		}
		v := Violation{Resource: h, AcceptedBy: h.PolicyRevision, RejectedBy: res.Policies.Revision}
		for _, f := range res.FindingsFor(cur.Doc) {
			if f.Severity.Blocking() {
				v.Findings = append(v.Findings, f)
			}
		}
		out = append(out, v)
	}
	return out
}

// owners gives, for every name the accepted resources claim (their key,
// and a Crane repository's name), the source that claims it.
func owners(accepted map[string]*pipeline.Resource) map[string]string {
	out := make(map[string]string, len(accepted))
	for key, x := range accepted {
		out[key] = x.Doc.Source.Name
		spec, _ := x.Spec.(map[string]any)
		if block, ok := spec["crane-data-repository"].(map[string]any); ok {
			name, _ := block["name"].(string)
			if name == "" {
				name = x.ID
			}
			out[pipeline.CraneClaim(x.Doc.TargetNamespace, name)] = x.Doc.Source.Name
		}
	}
	return out
}
