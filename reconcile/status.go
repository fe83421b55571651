package reconcile

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// Condition types, as Kubernetes conventions (kstatus) have them.
const (
	Ready       = "Ready"
	Reconciling = "Reconciling"
	Stalled     = "Stalled"
)

// Reasons of the conditions.
const (
	ReasonApplied      = "Applied"
	ReasonRejected     = "Rejected"
	ReasonHeld         = "LastAcceptedVersionKept"
	ReasonApplyFailed  = "ApplyFailed"
	ReasonInError      = "InError"
	ReasonSourceFailed = "SourceFetchFailed"
	ReasonSourceKept   = "LastGoodRevisionKept"
	ReasonNeverRead    = "SourceNeverRead"
	ReasonFetched      = "Fetched"
	// ReasonViolation: a running resource the policies in force reject
	// (found by the audit); it keeps running.
	ReasonViolation = "PolicyViolation"
	// Of the policies (the status ConfigMap's policies condition, events).
	ReasonPoliciesLoaded  = "PoliciesLoaded"
	ReasonPoliciesRefused = "PoliciesRefused"
)

// StatusConfigMap (for the instance "laiki"; another's is <instance>-status)
// is the name of the ConfigMap with the status of the
// sources and of every document that is not Ready.
const StatusConfigMap = "laiki-status"

// maxListed bounds the documents the status ConfigMap lists by name (a
// ConfigMap holds at most 1 MiB); the counts are always complete.
const maxListed = 200

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
			out[d] = verdict{reason: ReasonNeverRead, message: stop.Error()}
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
		v := verdict{ready: true, reason: ReasonApplied, message: "accepted and applied"}
		switch {
		case len(blocking) > 0:
			v = verdict{reason: ReasonRejected, stalled: true, message: strings.Join(blocking, "; ")}
			if d.Kind != document.Resource {
				v.reason = ReasonInError
			}
		case d.Kind == document.Target && len(failed[workflow.KubeNamespace(d)]) > 0:
			v = verdict{reason: ReasonApplyFailed, message: strings.Join(failed[workflow.KubeNamespace(d)], "; ")}
		}
		out[d] = v
	}
	for _, r := range res.Resources {
		if r.Held {
			continue
		}
		if fails := external[r.Key()]; r.Accepted && len(fails) > 0 {
			out[r.Doc] = verdict{reason: ReasonApplyFailed, message: strings.Join(fails, "; ")}
		}
		if !r.Accepted && held[r.Key()] {
			v := out[r.Doc]
			v.reason = ReasonHeld
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
				out[r.Doc] = verdict{reason: ReasonViolation, stalled: true, message: a.describe()}
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
		{Type: Ready, Status: status(v.ready), Reason: v.reason, Message: msg, ObservedGeneration: generation},
		{Type: Reconciling, Status: status(v.progressing), Reason: v.reason, ObservedGeneration: generation},
		{Type: Stalled, Status: status(v.stalled), Reason: v.reason, Message: msg, ObservedGeneration: generation},
	}
}

// merge sets conds on a list of conditions the way meta.SetStatusCondition
// does (a transition time only where the status changes) and reports
// whether anything changed.
func merge(list *[]metav1.Condition, conds []metav1.Condition) bool {
	before := append([]metav1.Condition(nil), *list...)
	for _, c := range conds {
		meta.SetStatusCondition(list, c)
	}
	return !reflect.DeepEqual(before, *list)
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
		if err := r.statusConfigMap(ctx, run, vs, stop); err != nil {
			r.Log.Error(err, "writing the status ConfigMap")
		}
	}
}

func (r *Reconciler) objectStatus(ctx context.Context, obj *unstructured.Unstructured, v verdict, revision string) error {
	var status struct {
		ObservedGeneration int64              `json:"observedGeneration,omitempty"`
		Conditions         []metav1.Condition `json:"conditions,omitempty"`
		PolicyRevision     string             `json:"policyRevision,omitempty"`
	}
	if raw, ok := obj.Object["status"].(map[string]any); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &status)
	}
	gen := obj.GetGeneration()
	changed := merge(&status.Conditions, v.conditions(gen))
	if !changed && status.ObservedGeneration == gen && status.PolicyRevision == revision {
		return nil
	}
	wasReady := meta.IsStatusConditionTrue(status.Conditions, Ready)
	status.ObservedGeneration, status.PolicyRevision = gen, revision
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	patch := obj.DeepCopy()
	patch.Object["status"] = raw
	if err := r.Status.Status().Update(ctx, patch); err != nil {
		return err
	}
	if r.Recorder != nil && changed {
		kind := corev1.EventTypeNormal
		if !v.ready {
			kind = corev1.EventTypeWarning
		}
		if wasReady != v.ready || !v.ready {
			r.Recorder.Event(obj, kind, v.reason, v.message)
		}
	}
	return nil
}

// Report is the content of the status ConfigMap: the sources with their
// conditions and revision, the policies, counts, the running resources the
// policies in force reject (audit), and the documents that are not Ready.
type Report struct {
	Summary engine.Summary `json:"summary"`
	// PolicyRevision is the revision of the policies in force.
	PolicyRevision string         `json:"policyRevision,omitempty"`
	Policies       *PolicyStatus  `json:"policies,omitempty"`
	Sources        []SourceStatus `json:"sources"`
	Audit          []AuditStatus  `json:"audit,omitempty"`
	NotReady       []DocStatus    `json:"notReady,omitempty"`
	// NotListed counts documents not Ready beyond those listed.
	NotListed int `json:"notListed,omitempty"`
}

// PolicyStatus says which policy set decides and whether the one read from
// the platform source was refused (Ready False, reason PoliciesRefused).
type PolicyStatus struct {
	InForce    string             `json:"inForce"`
	Read       string             `json:"read"`
	Conditions []metav1.Condition `json:"conditions"`
}

// AuditStatus is one running resource the policies in force reject.
type AuditStatus struct {
	Resource   string   `json:"resource"`
	Source     string   `json:"source"`
	File       string   `json:"file"`
	Line       int      `json:"line,omitempty"`
	AcceptedBy string   `json:"acceptedBy"`
	RejectedBy string   `json:"rejectedBy"`
	Violations []string `json:"violations"`
}

func (v Violation) describe() string {
	msgs := make([]string, len(v.Findings))
	for i, f := range v.Findings {
		msgs[i] = message(f)
	}
	return fmt.Sprintf("keeps running as accepted by policies %s, but the policies in force (%s) reject it: %s; fix it, or change the policies",
		v.AcceptedBy, v.RejectedBy, strings.Join(msgs, "; "))
}

// SourceStatus is the status of one source.
type SourceStatus struct {
	Name       string             `json:"name"`
	Revision   string             `json:"revision,omitempty"`
	Conditions []metav1.Condition `json:"conditions"`
}

// DocStatus is the status of one document that is not Ready.
type DocStatus struct {
	Resource string `json:"resource"`
	Source   string `json:"source"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

func (r *Reconciler) statusConfigMap(ctx context.Context, run *Run, vs map[*document.Document]verdict, stop error) error {
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: r.StatusNamespace, Name: r.statusName()}
	err := r.Status.Get(ctx, key, cm)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var prev Report
	_ = yaml.Unmarshal([]byte(cm.Data["status.yaml"]), &prev)
	rep := Report{Summary: run.Result.Summary()}
	if run.Result.Policies != nil {
		rep.PolicyRevision = run.Result.Policies.Revision
	}
	if rl := run.Result.Reload; rl != nil {
		rep.Policies = &PolicyStatus{InForce: rl.InForce, Read: rl.Revision}
		if prev.Policies != nil {
			rep.Policies.Conditions = prev.Policies.Conditions
		}
		v := verdict{ready: true, reason: ReasonPoliciesLoaded, message: "revision " + rl.InForce + " in force"}
		if rl.Refused() {
			v = verdict{reason: ReasonPoliciesRefused, stalled: true, message: fmt.Sprintf("revision %s refused, revision %s stays in force: %v", rl.Revision, rl.InForce, rl.Err)}
		}
		merge(&rep.Policies.Conditions, v.conditions(0))
	}
	for _, a := range run.Audit {
		d := a.Resource.Doc
		st := AuditStatus{Resource: a.Resource.Key(), Source: d.Source.Name, File: d.File, Line: d.Line, AcceptedBy: a.AcceptedBy, RejectedBy: a.RejectedBy}
		for _, f := range a.Findings {
			st.Violations = append(st.Violations, message(f))
		}
		rep.Audit = append(rep.Audit, st)
	}
	if len(rep.Audit) > maxListed {
		rep.Audit = rep.Audit[:maxListed] // the count is in the metric laiki_audit_violations
	}
	kept := map[string]bool{}
	for _, k := range run.Kept {
		kept[k.Source.Name] = true
	}
	for _, l := range run.Result.Sources {
		s := SourceStatus{Name: l.Source.Name, Revision: l.Revision}
		for _, p := range prev.Sources {
			if p.Name == s.Name {
				s.Conditions = p.Conditions
			}
		}
		v := verdict{ready: true, reason: ReasonFetched, message: "read " + describeRevision(l)}
		var msgs []string
		for _, f := range l.Findings {
			if f.Severity.Blocking() {
				msgs = append(msgs, f.Message)
			}
		}
		switch {
		case l.Failed:
			v = verdict{reason: ReasonNeverRead, message: strings.Join(msgs, "; ")}
		case kept[l.Source.Name]:
			v = verdict{reason: ReasonSourceKept, message: strings.Join(msgs, "; ")}
		}
		merge(&s.Conditions, v.conditions(0))
		rep.Sources = append(rep.Sources, s)
	}
	var docs []DocStatus
	for d, v := range vs {
		if v.ready || d.Source.Name == cluster.Source {
			continue // objects in the cluster carry their own status
		}
		docs = append(docs, DocStatus{Resource: d.Describe(), Source: d.Source.Name, File: d.File, Line: d.Line, Reason: v.reason, Message: v.message})
	}
	sort.Slice(docs, func(i, j int) bool {
		if docs[i].File != docs[j].File {
			return docs[i].File < docs[j].File
		}
		return docs[i].Line < docs[j].Line
	})
	if len(docs) > maxListed {
		rep.NotListed = len(docs) - maxListed
		docs = docs[:maxListed]
	}
	rep.NotReady = docs
	text, err := yaml.Marshal(rep)
	if err != nil {
		return err
	}
	if exists && cm.Data["status.yaml"] == string(text) {
		return nil
	}
	cm.Name, cm.Namespace = r.statusName(), r.StatusNamespace
	cm.Labels = map[string]string{LabelManagedBy: "laiki", LabelInstance: r.Applier.instance()}
	cm.Data = map[string]string{"status.yaml": string(text)}
	if exists {
		err = r.Status.Update(ctx, cm)
	} else {
		err = r.Status.Create(ctx, cm)
	}
	if err == nil && r.Recorder != nil {
		if rl := run.Result.Reload; rl != nil && run.PoliciesChanged {
			if rl.Refused() {
				r.Recorder.Event(cm, corev1.EventTypeWarning, ReasonPoliciesRefused, truncate(fmt.Sprintf("revision %s refused, revision %s stays in force: %v", rl.Revision, rl.InForce, rl.Err)))
			} else {
				r.Recorder.Event(cm, corev1.EventTypeNormal, ReasonPoliciesLoaded, fmt.Sprintf("revision %s in force", rl.InForce))
			}
		}
		for _, a := range run.Audit {
			if a.Resource.Doc.Source.Name != cluster.Source { // objects in the cluster get their own
				r.Recorder.Event(cm, corev1.EventTypeWarning, ReasonViolation, truncate(a.Resource.Key()+": "+a.describe()))
			}
		}
		for _, s := range rep.Sources {
			if c := meta.FindStatusCondition(s.Conditions, Ready); c != nil && c.Status != metav1.ConditionTrue {
				r.Recorder.Event(cm, corev1.EventTypeWarning, c.Reason, truncate("source "+s.Name+": "+c.Message))
			}
		}
	}
	return err
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
			r.Recorder.Event(obj, corev1.EventTypeWarning, ReasonApplyFailed, truncate(c.String()))
		case c.Op == OpPrune:
			r.Recorder.Event(obj, corev1.EventTypeNormal, "Pruned", "Laiki no longer wants it")
		default:
			r.Recorder.Event(obj, corev1.EventTypeNormal, ReasonApplied, fmt.Sprintf("%sd by Laiki", c.Op))
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
