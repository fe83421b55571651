package reconcile

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// verdict is the status of one document after a run.
type verdict struct {
	ready   bool
	reason  string
	message string
	// stalled: only a change to the document (or the policies) helps.
	stalled bool
	// progressing: applied, and not served yet (kstatus' Reconciling).
	progressing bool
}

// verdicts decides the status of every document of a run.
func verdicts(run *Run, stop error) map[*document.Document]verdict {
	res := run.Result
	out := map[*document.Document]verdict{}
	if stop != nil {
		for _, d := range res.Documents {
			out[d] = verdict{reason: v1alpha1.SourceNeverReadReason, message: stop.Error()}
		}
		return out
	}
	failed := map[string][]string{} // apply errors by Kubernetes namespace
	if run.Outcome != nil {
		for _, c := range run.Outcome.Errors() {
			failed[c.Namespace] = append(failed[c.Namespace], c.String())
		}
	}
	held := map[string]bool{}
	for _, h := range run.Held {
		held[h.Key()] = true
	}
	external := map[string][]string{} // registry failures by resource
	for _, c := range run.External {
		if c.Err != nil && c.Resource != "" {
			external[c.Resource] = append(external[c.Resource], c.String())
		}
	}
	for _, d := range res.Documents {
		var blocking []string
		for _, f := range res.FindingsFor(d) {
			if f.Severity.Blocking() {
				blocking = append(blocking, message(f))
			}
		}
		v := verdict{ready: true, reason: v1alpha1.AppliedReason, message: "accepted and applied"}
		switch {
		case len(blocking) > 0:
			v = verdict{reason: v1alpha1.RejectedReason, stalled: true, message: strings.Join(blocking, "; ")}
			if d.Kind != document.Resource {
				v.reason = v1alpha1.InErrorReason
			}
		case d.Kind == document.Target && len(failed[workflow.KubeNamespace(d)]) > 0:
			v = verdict{reason: v1alpha1.ApplyFailedReason, message: strings.Join(failed[workflow.KubeNamespace(d)], "; ")}
		}
		out[d] = v
	}
	for _, r := range res.Resources {
		if r.Held {
			continue
		}
		if fails := external[r.Key()]; r.Accepted && len(fails) > 0 {
			out[r.Doc] = verdict{reason: v1alpha1.ApplyFailedReason, message: strings.Join(fails, "; ")}
		}
		if !r.Accepted && held[r.Key()] {
			v := out[r.Doc]
			v.reason = v1alpha1.LastAcceptedVersionKeptReason
			v.message += "; the last accepted version stays deployed"
			out[r.Doc] = v
		}
	}
	// Applied is not serving: an accepted app waits on its components.
	for _, r := range res.Resources {
		if r.Held || !r.Accepted || r.Doc.Type != "ShinyProxyApp" {
			continue
		}
		image, _ := r.Spec.(map[string]any)["container-image"].(string)
		out[r.Doc] = run.Serving.progress(r.Doc.TargetNamespace, image, out[r.Doc])
	}
	for _, a := range run.Audit {
		for _, r := range res.Resources {
			if !r.Held && r.ID != "" && r.Key() == a.Resource.Key() {
				out[r.Doc] = verdict{reason: v1alpha1.PolicyViolationReason, stalled: true, message: a.describe()}
			}
		}
	}
	return out
}

func message(f finding.Finding) string {
	if f.Policy != "" {
		return "[" + f.Policy + "] " + f.Message
	}
	return f.Message
}

// conditions turns a verdict into the three conditions.
func (v verdict) conditions(generation int64) []metav1.Condition {
	status := func(b bool) metav1.ConditionStatus {
		if b {
			return metav1.ConditionTrue
		}
		return metav1.ConditionFalse
	}
	msg := cut(v.message, 32768) // metav1.Condition's message limit
	return []metav1.Condition{
		{Type: v1alpha1.ReadyCondition, Status: status(v.ready), Reason: v.reason, Message: msg, ObservedGeneration: generation},
		{Type: v1alpha1.ReconcilingCondition, Status: status(v.progressing), Reason: v.reason, ObservedGeneration: generation},
		{Type: v1alpha1.StalledCondition, Status: status(v.stalled), Reason: v.reason, Message: msg, ObservedGeneration: generation},
	}
}

// merge sets conds on a list of conditions with meta.SetStatusCondition (a
// transition time only where the status changes; other types are left be)
// and reports whether anything changed.
func merge(list *[]metav1.Condition, conds []metav1.Condition) bool {
	changed := false
	for _, c := range conds {
		changed = meta.SetStatusCondition(list, c) || changed
	}
	return changed
}

// writeStatus writes the conditions of the Laiki objects in the cluster and
// the status ConfigMap; nothing where nothing changed.
func (r *Reconciler) writeStatus(ctx context.Context, run *Run, stop error) {
	if r.Status == nil || run.Result == nil || r.Applier.DryRun {
		return // a dry run reads the memory, and writes nothing
	}
	vs := verdicts(run, stop)
	revision := ""
	if run.Result.Policies != nil {
		revision = run.Result.Policies.Revision
	}
	for d, obj := range run.Objects {
		v, ok := vs[d]
		if !ok {
			continue
		}
		if err := r.objectStatus(ctx, obj, v, revision); err != nil {
			r.Log.Error(err, "writing status", "object", d.File)
		}
	}
	if r.StatusNamespace != "" {
		if err := r.statusConfigMap(ctx, run, vs); err != nil {
			r.Log.Error(err, "writing the status ConfigMap")
		}
	}
}

// objectStatus sets the verdict on the status of a Laiki object (obj is the
// object as the run read it, at its start) and tells of a change in an
// Event. The status is written by a merge patch that carries the
// resourceVersion it was computed from: an object written since (by
// another controller, or a person with kubectl) is a conflict, and the
// patch is computed again from the object read now, so that what the other
// writer set stays and Laiki's status is not lost.
func (r *Reconciler) objectStatus(ctx context.Context, obj *unstructured.Unstructured, v verdict, revision string) error {
	live, err := r.newStatusObject(obj)
	if err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, live); err != nil {
		return err
	}
	changed, again := false, false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if again { // a conflict: read the object as it is now
			if live, err = r.readStatusObject(ctx, obj); err != nil {
				return err
			}
		}
		again = true
		changed, err = r.patchStatus(ctx, live, obj.GetGeneration(), v, revision)
		return err
	})
	if err != nil {
		return err
	}
	// Only a verdict short of Ready is told of (a change to Ready is not:
	// the conditions say it).
	if r.Recorder != nil && changed && !v.ready {
		r.Recorder.Event(obj, corev1.EventTypeWarning, v.reason, v.message)
	}
	return nil
}

// statusObject is a Laiki object as its Go type has it.
type statusObject interface {
	client.Object
	v1alpha1.StatusObject
}

// newStatusObject is an empty object of the Go type of obj's kind.
func (r *Reconciler) newStatusObject(obj *unstructured.Unstructured) (statusObject, error) {
	typed, err := r.Status.Scheme().New(obj.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	o, ok := typed.(statusObject)
	if !ok {
		return nil, fmt.Errorf("%s has no Laiki status", obj.GroupVersionKind().Kind)
	}
	return o, nil
}

// readStatusObject reads obj as it is now, from the API server (a cache
// may lag behind).
func (r *Reconciler) readStatusObject(ctx context.Context, obj *unstructured.Unstructured) (statusObject, error) {
	live, err := r.newStatusObject(obj)
	if err != nil {
		return nil, err
	}
	var reader client.Reader = r.Status
	if r.Cluster != nil {
		reader = r.Cluster
	}
	return live, reader.Get(ctx, client.ObjectKeyFromObject(obj), live)
}

// patchStatus patches the status of live where the verdict on generation
// gen (the one judged: one changed since is the next run's to judge)
// changes its conditions, observed generation or policy revision; changed
// says whether the conditions changed.
func (r *Reconciler) patchStatus(ctx context.Context, live statusObject, gen int64, v verdict, revision string) (changed bool, err error) {
	before := live.DeepCopyObject().(client.Object)
	status := live.GetStatus()
	changed = merge(&status.Conditions, v.conditions(gen))
	if !changed && status.ObservedGeneration == gen && status.PolicyRevision == revision {
		return false, nil
	}
	status.ObservedGeneration, status.PolicyRevision = gen, revision
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	return changed, r.Status.Status().Patch(ctx, live, patch)
}

// events records a Kubernetes Event on every object applied, pruned or
// failed, and on the status ConfigMap for every source kept at its last
// good read. An unchanged platform makes none: events are writes too.
func (r *Reconciler) events(run *Run) {
	if r.Recorder == nil || run.Outcome == nil {
		return
	}
	for _, c := range run.External {
		if c.Op != ExtUnchanged {
			r.Log.Info("external resource", "type", c.Type, "name", c.Name, "op", c.Op, "details", c.Details, "error", c.Err)
		}
	}
	for _, c := range run.Outcome.Changes {
		if c.Op == OpUnchanged || c.Kind == "Namespace" || c.Name == "*" {
			continue // nothing changed, or no one object to tell of it
		}
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(c.APIVersion)
		obj.SetKind(c.Kind)
		obj.SetNamespace(c.Namespace)
		obj.SetName(c.Name)
		switch {
		case c.Err != nil:
			r.Recorder.Event(obj, corev1.EventTypeWarning, v1alpha1.ApplyFailedReason, truncate(c.String()))
		case c.Op == OpPrune:
			r.Recorder.Event(obj, corev1.EventTypeNormal, "Pruned", "Laiki no longer wants it")
		default:
			r.Recorder.Event(obj, corev1.EventTypeNormal, v1alpha1.AppliedReason, fmt.Sprintf("%sd by Laiki", c.Op))
		}
	}
	// Resources outside the cluster have no object of their own: their
	// events go on the status ConfigMap, which lists them.
	if r.StatusNamespace == "" {
		return
	}
	cm := &corev1.ConfigMap{}
	cm.APIVersion, cm.Kind = "v1", "ConfigMap"
	cm.Namespace, cm.Name = r.StatusNamespace, r.statusName()
	for _, c := range run.External {
		switch {
		case c.Op == ExtUnchanged, c.Op == ExtStalled: // said when it happened
		case c.Err != nil:
			r.Recorder.Event(cm, corev1.EventTypeWarning, "ExternalFailed", truncate(c.String()))
		default:
			r.Recorder.Event(cm, corev1.EventTypeNormal, "External"+strings.ToUpper(c.Op[:1])+c.Op[1:], truncate(c.String()))
		}
	}
}

// truncate keeps an event's text short (events are for people; the status
// holds the whole).
func truncate(s string) string {
	if len(s) > 1024 {
		return cut(s, 1024) + "..."
	}
	return s
}

// cut keeps at most n bytes of s, never half a character: the API server
// refuses a string that is not UTF-8, and a team's message may quote
// values in any script.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
