package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
)

// StatusConfigMap (for the instance "laiki"; another's is <instance>-status)
// is the name of the ConfigMap with the status of the
// sources and of every document that is not Ready.
const StatusConfigMap = "laiki-status"

// maxListed bounds the documents the status ConfigMap lists by name (a
// ConfigMap holds at most 1 MiB); the counts are always complete.
const maxListed = 200

// Report is the content of the status ConfigMap: the sources with their
// conditions and revision, the policies, counts, the running resources the
// policies in force reject (audit), and the documents that are not Ready.
type Report struct {
	Summary pipeline.Summary `json:"summary"`
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

// statusConfigMap reports the run in the status ConfigMap: built, written
// where it changed, and, when written, told of in Events on it.
func (r *Reconciler) statusConfigMap(ctx context.Context, run *Run, vs map[*document.Document]verdict) error {
	cm, prev, err := r.readStatusConfigMap(ctx)
	if err != nil {
		return err
	}
	rep := buildStatusReport(run, vs, prev)
	written, err := r.writeStatusConfigMap(ctx, cm, rep)
	if err != nil || !written {
		return err
	}
	r.announceStatus(run, cm, rep)
	return nil
}

// readStatusConfigMap reads the status ConfigMap and the report in it (the
// conditions of the sources and the policies go on from it); a ConfigMap
// not there yet is returned with no name.
func (r *Reconciler) readStatusConfigMap(ctx context.Context) (*corev1.ConfigMap, Report, error) {
	cm := &corev1.ConfigMap{}
	var prev Report
	err := r.Status.Get(ctx, client.ObjectKey{Namespace: r.StatusNamespace, Name: r.statusName()}, cm)
	if apierrors.IsNotFound(err) {
		return &corev1.ConfigMap{}, prev, nil
	}
	if err != nil {
		return nil, prev, err
	}
	_ = yaml.Unmarshal([]byte(cm.Data["status.yaml"]), &prev)
	return cm, prev, nil
}

// buildStatusReport makes the report of a run; prev is the report before,
// whose conditions keep their transition times where nothing changed.
func buildStatusReport(run *Run, vs map[*document.Document]verdict, prev Report) Report {
	rep := Report{Summary: run.Result.Summary()}
	if run.Result.Policies != nil {
		rep.PolicyRevision = run.Result.Policies.Revision
	}
	rep.Policies = policyStatus(run.Result.Reload, prev.Policies)
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
	rep.Sources = sourceStatuses(run, prev.Sources)
	rep.NotReady, rep.NotListed = notReady(vs)
	return rep
}

// policyStatus is the status of the policy set read (nil: none read).
func policyStatus(rl *policy.Reload, prev *PolicyStatus) *PolicyStatus {
	if rl == nil {
		return nil
	}
	st := &PolicyStatus{InForce: rl.InForce, Read: rl.Revision}
	if prev != nil {
		st.Conditions = prev.Conditions
	}
	v := verdict{ready: true, reason: v1alpha1.PoliciesLoadedReason, message: "revision " + rl.InForce + " in force"}
	if rl.Refused() {
		v = verdict{reason: v1alpha1.PoliciesRefusedReason, stalled: true, message: refusedPolicies(rl)}
	}
	merge(&st.Conditions, v.conditions(0))
	return st
}

func refusedPolicies(rl *policy.Reload) string {
	return fmt.Sprintf("revision %s refused, revision %s stays in force: %v", rl.Revision, rl.InForce, rl.Err)
}

// sourceStatuses is the status of every source the run read.
func sourceStatuses(run *Run, prev []SourceStatus) []SourceStatus {
	kept := map[string]bool{}
	for _, k := range run.Kept {
		kept[k.Source.Name] = true
	}
	var out []SourceStatus
	for _, l := range run.Result.Sources {
		s := SourceStatus{Name: l.Source.Name, Revision: l.Revision}
		for _, p := range prev {
			if p.Name == s.Name {
				s.Conditions = p.Conditions
			}
		}
		v := verdict{ready: true, reason: v1alpha1.FetchedReason, message: "read " + describeRevision(l)}
		var msgs []string
		for _, f := range l.Findings {
			if f.Severity.Blocking() {
				msgs = append(msgs, f.Message)
			}
		}
		switch {
		case l.Failed:
			v = verdict{reason: v1alpha1.SourceNeverReadReason, message: strings.Join(msgs, "; ")}
		case kept[l.Source.Name]:
			v = verdict{reason: v1alpha1.LastGoodRevisionKeptReason, message: strings.Join(msgs, "; ")}
		}
		merge(&s.Conditions, v.conditions(0))
		out = append(out, s)
	}
	return out
}

// notReady lists the documents from the sources that are not Ready, by file
// and line, at most maxListed of them; notListed counts the others.
func notReady(vs map[*document.Document]verdict) (docs []DocStatus, notListed int) {
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
		return docs[:maxListed], len(docs) - maxListed
	}
	return docs, 0
}

// writeStatusConfigMap writes the report in the status ConfigMap cm (as
// read before; no name: not there yet), and nothing if it says that
// already; written says whether it wrote.
func (r *Reconciler) writeStatusConfigMap(ctx context.Context, cm *corev1.ConfigMap, rep Report) (written bool, err error) {
	text, err := yaml.Marshal(rep)
	if err != nil {
		return false, err
	}
	exists := cm.Name != ""
	if exists && cm.Data["status.yaml"] == string(text) {
		return false, nil
	}
	cm.Name, cm.Namespace = r.statusName(), r.StatusNamespace
	cm.Labels = map[string]string{LabelManagedBy: "laiki", LabelInstance: r.Applier.instance()}
	cm.Data = map[string]string{"status.yaml": string(text)}
	if exists {
		err = r.Status.Update(ctx, cm)
	} else {
		err = r.Status.Create(ctx, cm)
	}
	return err == nil, err
}

// announceStatus records Events on the status ConfigMap just written: a
// policy set loaded or refused (once), every running resource the policies
// in force reject, and every source that is not Ready.
func (r *Reconciler) announceStatus(run *Run, cm *corev1.ConfigMap, rep Report) {
	if r.Recorder == nil {
		return
	}
	if rl := run.Result.Reload; rl != nil && run.PoliciesChanged {
		if rl.Refused() {
			r.Recorder.Event(cm, corev1.EventTypeWarning, v1alpha1.PoliciesRefusedReason, truncate(refusedPolicies(rl)))
		} else {
			r.Recorder.Event(cm, corev1.EventTypeNormal, v1alpha1.PoliciesLoadedReason, fmt.Sprintf("revision %s in force", rl.InForce))
		}
	}
	for _, a := range run.Audit {
		if a.Resource.Doc.Source.Name != cluster.Source { // objects in the cluster get their own
			r.Recorder.Event(cm, corev1.EventTypeWarning, v1alpha1.PolicyViolationReason, truncate(a.Resource.Key()+": "+a.describe()))
		}
	}
	for _, s := range rep.Sources {
		if c := meta.FindStatusCondition(s.Conditions, v1alpha1.ReadyCondition); c != nil && c.Status != metav1.ConditionTrue {
			r.Recorder.Event(cm, corev1.EventTypeWarning, c.Reason, truncate("source "+s.Name+": "+c.Message))
		}
	}
}
