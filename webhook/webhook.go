// Package webhook is Laiki's Kubernetes admission webhook: `kubectl apply` of
// a Laiki object gets the verdict `laiki check` gives the same document on a
// pull request. The mutating webhook runs the pre-processors and returns a
// JSON patch; the validating webhook runs access control, schema checks,
// pre-processors and governance, and refuses what they refuse. Both are
// side-effect free, so server-side dry-run takes the same path.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Paths the two webhooks are served at.
const (
	MutatePath   = "/mutate-laiki"
	ValidatePath = "/validate-laiki"
)

// Admission decides Laiki objects. The state it judges against (the
// platform's targets, pre-processors and policies, and every Laiki object
// already in the cluster) is rebuilt when the cluster changes (MarkDirty).
type Admission struct {
	Config  *source.Config
	Options pipeline.Options
	// Reader lists the Laiki objects in the cluster (a cached client).
	Reader client.Reader
	// Refresh re-reads the sources this often (Setup runs it), so that
	// changed platform policies are picked up without a restart; 0 never.
	Refresh time.Duration
	// CacheSize is how many judgments of objects are remembered under the
	// state in force (0: DefaultCacheSize; negative: none).
	CacheSize int

	mu    sync.Mutex
	dirty atomic.Bool
	state atomic.Pointer[pipeline.Index]
	gate  *policy.Gate
	// loaded is the last read of the sources: a change in the cluster is
	// judged against it, so that no request waits on Git.
	loaded []*source.Loaded
	cache  judgments
}

// refresh re-reads the sources every Refresh until ctx ends, off the path of
// requests (which keep the state in force until the new one is built).
func (a *Admission) refresh(ctx context.Context) error {
	every(ctx, a.Refresh, func() {
		if _, err := a.Rebuild(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "re-reading the sources for the webhook")
		}
	})
	return nil
}

// Rebuild reads the sources (Git included) and the cluster's objects, and
// puts the new state in force; requests meanwhile answer from the state in
// force. The refresher calls it, off the path of requests.
func (a *Admission) Rebuild(ctx context.Context) (*pipeline.Index, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.build(ctx, true)
}

// every calls f every d until ctx ends (never when d is not positive).
func every(ctx context.Context, d time.Duration, f func()) {
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// MarkDirty makes the next request rebuild the state (an informer calls it
// when a Laiki object changes).
func (a *Admission) MarkDirty() { a.dirty.Store(true) }

// State returns the current state. When the cluster's objects changed
// (MarkDirty) it is rebuilt with them against the sources as last read:
// a request never waits on Git, which the refresher reads. Only the very
// first state reads the sources on the path of a request.
func (a *Admission) State(ctx context.Context) (*pipeline.Index, error) {
	if s := a.state.Load(); s != nil && !a.dirty.Load() {
		return s, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.state.Load(); s != nil && !a.dirty.Load() {
		return s, nil
	}
	return a.build(ctx, a.loaded == nil)
}

// build makes a new state, reading the sources when fetch is set (else
// judging against their last read); the caller holds a.mu.
func (a *Admission) build(ctx context.Context, fetch bool) (*pipeline.Index, error) {
	a.dirty.Store(false)
	var docs []*document.Document
	if a.Reader != nil {
		var err error
		if docs, _, err = cluster.Documents(ctx, a.Reader, a.Config); err != nil {
			a.dirty.Store(true)
			return nil, err
		}
	}
	opts := a.Options
	opts.Config = a.Config
	opts.Documents = docs
	load := opts.Loader
	if load == nil {
		load = source.Load
	}
	opts.Loader = func(ctx context.Context, cfg *source.Config, lo source.Options) []*source.Loaded {
		if !fetch && a.loaded != nil {
			return a.loaded
		}
		a.loaded = load(ctx, cfg, lo)
		return a.loaded
	}
	if opts.Gate == nil {
		// A new policy set must pass its tests here too, and one that
		// does not leaves the set in force deciding.
		if a.gate == nil {
			a.gate = &policy.Gate{}
		}
		opts.Gate = a.gate
	}
	s, err := pipeline.BuildIndex(ctx, opts)
	if err != nil {
		a.dirty.Store(true)
		return nil, err
	}
	size := a.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	// Before the state is in force, so that no request can remember a
	// judgment under it that the reset would not see; a request still
	// judging under the old state remembers nothing.
	a.cache.reset(s, size)
	a.state.Store(s)
	return s, nil
}

// current is the state in force when it needs no rebuild (else nil): a
// judgment remembered under it still holds.
func (a *Admission) current() *pipeline.Index {
	if s := a.state.Load(); s != nil && !a.dirty.Load() {
		return s
	}
	return nil
}

// decide runs the engine on the object of a request (or answers with its
// judgment under the same state); obj is the object with its owner set, and
// p (when not nil) gets the operations that set it.
func (a *Admission) decide(ctx context.Context, req admission.Request, govern bool, p *jsonPatch) (map[string]any, *judgment, error) {
	var obj map[string]any
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		return nil, nil, fmt.Errorf("the object is not JSON: %w", err)
	}
	u := unstructured.Unstructured{Object: obj}
	if err := namesAgree(&u); err != nil {
		return obj, &judgment{v: denied(err.Error())}, nil
	}
	src, err := a.Config.SourceFor(req.UserInfo.Username, req.UserInfo.Groups)
	if err != nil {
		return obj, &judgment{v: denied(err.Error())}, nil
	}
	owner, err := a.owner(req, src)
	if err != nil {
		return obj, &judgment{v: denied(err.Error())}, nil
	}
	// The owner is Laiki's to say: whatever the object claims, it is the
	// creator's source, and never changes.
	if got := u.GetAnnotations()[kube.AnnotationSource]; got != "" && got != owner.Name && govern {
		return obj, &judgment{v: denied(fmt.Sprintf("annotation %s is Laiki's: this object belongs to source %s, not %s", kube.AnnotationSource, owner.Name, got))}, nil
	}
	if p != nil {
		ownerOps(p, obj, owner.Name)
	}
	setOwner(obj, owner.Name)
	key, cacheable := judgmentKey(obj, owner, govern)
	if s := a.current(); s != nil && cacheable {
		if j := a.cache.get(s, key); j != nil {
			return obj, j, nil
		}
	}
	growStack()
	d, fs, err := objectDocument(obj, owner.Ref())
	if err != nil {
		return obj, &judgment{v: denied(err.Error())}, nil
	}
	state, err := a.State(ctx)
	if err != nil {
		return nil, nil, err
	}
	var v pipeline.Verdict
	if govern {
		v = state.Admit(ctx, d, owner)
		// The CRD check the ShinyProxy workflow makes in check, render and
		// the operator: an app that would make the API server refuse its
		// target's whole resource is refused here too, with the same words.
		if crd := workflow.CheckAppAgainstCRD(v.Resource); v.Allowed && len(crd) > 0 {
			v.Findings = append(v.Findings, crd...)
			v.Allowed = !finding.AnyBlocking(crd)
		}
	} else {
		v = state.AdmitForMutation(ctx, d, owner)
	}
	v.Findings = append(fs, v.Findings...)
	v.Allowed = v.Allowed && !finding.AnyBlocking(fs)
	j := &judgment{v: v}
	j.v.Resource = nil
	// Only a resource whose pre-processors ran has a new spec; the
	// validating webhook does not change the object.
	if !govern && v.Resource != nil && v.Resource.PreProcessors != nil {
		changed := *d
		changed.Spec = v.Resource.Spec
		if newObj, err := kube.ToObject(&changed); err == nil {
			j.spec, err = jsonValue(newObj["spec"])
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if cacheable && j.cacheable() {
		a.cache.put(state, key, j)
	}
	return obj, j, nil
}

// owner is the source an object of a request belongs to: on create, the
// requester's; on update and delete, the one its laiki.io/source names,
// which only its own source or a platform source may change or delete (an
// object written before Laiki stamped owners takes the requester's).
func (a *Admission) owner(req admission.Request, requester *source.Source) (*source.Source, error) {
	if req.Operation == admissionv1.Create || len(req.OldObject.Raw) == 0 {
		return requester, nil
	}
	var old unstructured.Unstructured
	if err := json.Unmarshal(req.OldObject.Raw, &old.Object); err != nil {
		return nil, fmt.Errorf("the object as stored is not JSON: %w", err)
	}
	name := old.GetAnnotations()[kube.AnnotationSource]
	if name == "" || name == requester.Name {
		return requester, nil
	}
	if requester.Role != source.RolePlatform {
		return nil, fmt.Errorf("%s %s/%s belongs to source %s: source %s may not %s it", old.GetKind(), old.GetNamespace(), old.GetName(),
			name, requester.Name, strings.ToLower(string(req.Operation)))
	}
	if s := a.Config.Named(name); s != nil {
		return s, nil // the platform acts on a team's object: judged as the team's
	}
	return &source.Source{Name: name, Role: source.RoleTeam}, nil
}

// setOwner writes the owning source into an object's annotations.
func setOwner(obj map[string]any, name string) {
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	ann[kube.AnnotationSource] = name
}

// namesAgree refuses an object whose laiki.io annotations claim a Laiki name
// or namespace that does not map to its own: a team must not reach another
// namespace's targets through an annotation.
func namesAgree(u *unstructured.Unstructured) error {
	ann := u.GetAnnotations()
	if n, ok := ann[kube.AnnotationNamespace]; ok && kube.Name(n) != u.GetNamespace() {
		return fmt.Errorf("annotation %s: %s maps to namespace %s, and the object is in %s", kube.AnnotationNamespace, n, kube.Name(n), u.GetNamespace())
	}
	if n, ok := ann[kube.AnnotationName]; ok && kube.Name(n) != u.GetName() {
		return fmt.Errorf("annotation %s: %s maps to name %s, and the object is named %s", kube.AnnotationName, n, kube.Name(n), u.GetName())
	}
	return nil
}

func denied(msg string) pipeline.Verdict {
	return pipeline.Verdict{Findings: []finding.Finding{{Severity: finding.Error, Policy: finding.CheckAccess, Message: msg}}}
}

// isPreProcessorFinding: the mutating webhook reports what the
// pre-processors say; the validating webhook everything else, so that
// kubectl shows each warning once.
func isPreProcessorFinding(f finding.Finding) bool {
	return strings.HasPrefix(f.Policy, "laiki.preprocessors.")
}

// Message writes a finding as kubectl shows it: the policy, the field, the message.
func Message(f finding.Finding) string {
	var b strings.Builder
	if f.Policy != "" {
		b.WriteString("[" + f.Policy + "] ")
	}
	if f.Field != "" {
		b.WriteString(strings.TrimPrefix(f.Field, document.KeySpec+".") + ": ")
	}
	b.WriteString(strings.TrimPrefix(f.Message, strings.TrimPrefix(f.Field, document.KeySpec+".")+": "))
	return b.String()
}

// Mutator is the mutating webhook: the pre-processors' changes as a patch.
type Mutator struct{ *Admission }

// Handle implements admission.Handler.
func (m Mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	var p jsonPatch
	obj, j, err := m.decide(ctx, req, false, &p)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	v := j.v
	// A refusal before governance (access, binding, schema, a pre-processor
	// that fails) comes from here already: the API server checks the
	// object's schema between the two webhooks, and Laiki's message (with
	// its policy and field) should be the one the user reads. Governance is
	// the validating webhook's, on the mutated object.
	if !v.Allowed {
		return verdict(v, func(finding.Finding) bool { return true })
	}
	var warnings []string
	for _, f := range v.Findings {
		if isPreProcessorFinding(f) && f.Severity == finding.Warn {
			warnings = append(warnings, Message(f))
		}
	}
	// p sets the owner; only a resource whose pre-processors ran has a new
	// spec.
	if j.spec != nil {
		if old, ok := obj["spec"]; ok {
			diffOps(&p, "/spec", old, j.spec)
		} else {
			p.op("add", "/spec", j.spec)
		}
	}
	patch, err := p.bytes()
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	resp := admission.Allowed("")
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp.WithWarnings(warnings...)
}

// Validator is the validating webhook: the verdict.
type Validator struct{ *Admission }

// Handle implements admission.Handler.
func (val Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation == admissionv1.Delete {
		return val.deletion(req)
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	_, j, err := val.decide(ctx, req, true, nil)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return verdict(j.v, func(f finding.Finding) bool { return !isPreProcessorFinding(f) })
}

// deletion lets a source delete its own objects, a platform source any; a
// user of another source may not. A user of no source (the namespace and
// garbage collectors, an administrator) is RBAC's to judge.
func (val Validator) deletion(req admission.Request) admission.Response {
	src, err := val.Config.SourceFor(req.UserInfo.Username, req.UserInfo.Groups)
	if err != nil {
		return admission.Allowed("")
	}
	if _, err := val.owner(req, src); err != nil {
		return admission.Denied(err.Error())
	}
	return admission.Allowed("")
}

// verdict answers with the blocking findings as the reason of a refusal, and
// the warnings that warn selects.
func verdict(v pipeline.Verdict, warn func(finding.Finding) bool) admission.Response {
	var warnings, reasons []string
	for _, f := range v.Findings {
		switch {
		case f.Severity.Blocking():
			reasons = append(reasons, Message(f))
		case f.Severity == finding.Warn && warn(f):
			warnings = append(warnings, Message(f))
		}
	}
	resp := admission.Allowed("")
	if len(reasons) > 0 || !v.Allowed {
		resp = admission.Denied(strings.Join(reasons, "; "))
	}
	if v.PolicyRevision != "" {
		// In the API server's audit log: which policies made the decision.
		resp.AuditAnnotations = map[string]string{"policy-revision": v.PolicyRevision}
	}
	return resp.WithWarnings(warnings...)
}
