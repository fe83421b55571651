package reconcile

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/types"
)

// AcceptedConfigMap (for the instance "laiki"; another instance's is
// <instance>-accepted, see acceptedName) keeps the last accepted version of every resource in the
// cluster, so that an operator that restarts (a new release, a node drained)
// still keeps running what a rejected update or a stricter policy would
// otherwise take away: the memory of Hold and of the audit outlives the pod.
const AcceptedConfigMap = "laiki-accepted"

// acceptedKey is the ConfigMap's one key: gzipped JSON, so that thousands of
// apps fit in a ConfigMap's 1 MiB.
const acceptedKey = "accepted.json.gz"

// acceptedRecord is one resource as it was accepted: the document as written
// (to read it again) and its spec after the pre-processors (what runs).
type acceptedRecord struct {
	Key            string             `json:"key"`
	Source         document.SourceRef `json:"source"`
	File           string             `json:"file"`
	Line           int                `json:"line"`
	Column         int                `json:"column"`
	Metadata       map[string]any     `json:"metadata"`
	Written        any                `json:"written"`
	Spec           any                `json:"spec"`
	PolicyRevision string             `json:"policyRevision"`
}

// saveAccepted writes the last accepted versions when they changed.
func (r *Reconciler) saveAccepted(ctx context.Context) error {
	if r.Status == nil || r.StatusNamespace == "" {
		return nil
	}
	records := make([]acceptedRecord, 0, len(r.lastAccepted))
	for key, x := range r.lastAccepted {
		records = append(records, acceptedRecord{Key: key, Source: x.Doc.Source, File: x.Doc.File, Line: x.Doc.Line, Column: x.Doc.Column,
			Metadata: x.Doc.Metadata, Written: x.Doc.Spec, Spec: x.Spec, PolicyRevision: x.PolicyRevision})
	}
	sort.Slice(records, func(i, j int) bool { return records[i].Key < records[j].Key })
	raw, err := json.Marshal(records)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if sum == r.savedAccepted {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: r.StatusNamespace, Name: r.acceptedName()}
	err = r.Status.Get(ctx, key, cm)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	cm.Name, cm.Namespace = r.acceptedName(), r.StatusNamespace
	cm.Labels = map[string]string{LabelManagedBy: "laiki", LabelInstance: r.Applier.instance()}
	cm.Data = nil
	cm.BinaryData = map[string][]byte{acceptedKey: buf.Bytes()}
	if exists {
		err = r.Status.Update(ctx, cm)
	} else {
		err = r.Status.Create(ctx, cm)
	}
	if err == nil {
		r.savedAccepted = sum
	}
	return err
}

// loadAccepted reads the last accepted versions written by an earlier
// operator; none when there are none. A record that does not read back is
// left out (and said): it can only be held again once accepted again.
func (r *Reconciler) loadAccepted(ctx context.Context) (map[string]*pipeline.Resource, error) {
	if r.Status == nil || r.StatusNamespace == "" {
		return nil, nil
	}
	cm := &corev1.ConfigMap{}
	if err := r.Status.Get(ctx, client.ObjectKey{Namespace: r.StatusNamespace, Name: r.acceptedName()}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(cm.BinaryData[acceptedKey]))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.acceptedName(), err)
	}
	// Bounded: a ConfigMap holds 1 MiB, and gzip of JSON rarely beats 50:1.
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.acceptedName(), err)
	}
	var records []acceptedRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&records); err != nil {
		return nil, fmt.Errorf("%s: %w", r.acceptedName(), err)
	}
	out := map[string]*pipeline.Resource{}
	for _, rec := range records {
		x, err := restore(rec)
		if err != nil {
			r.Log.Error(err, "a last accepted version does not read back; it is not held", "resource", rec.Key)
			continue
		}
		out[rec.Key] = x
	}
	r.savedAccepted = sha256.Sum256(mustJSON(records))
	return out, nil
}

// restore reads a record back as the resource it was: its document parsed
// again from what was written, at its file and line.
func restore(rec acceptedRecord) (*pipeline.Resource, error) {
	text, err := yaml.Marshal(map[string]any{document.KeyMetadata: policy.Normalize(rec.Metadata), document.KeySpec: policy.Normalize(rec.Written)})
	if err != nil {
		return nil, err
	}
	parsed := document.Parse(rec.Source, rec.File, text, document.DefaultLimits)
	if len(parsed.Documents) != 1 || parsed.Documents[0].Broken || parsed.Documents[0].Kind != document.Resource {
		return nil, fmt.Errorf("not one resource document")
	}
	d := parsed.Documents[0]
	d.Line, d.Column = rec.Line, rec.Column
	rt, ok := types.Resource(d.Type)
	if !ok {
		return nil, fmt.Errorf("unknown resource type %s", d.Type)
	}
	x := &pipeline.Resource{Doc: d, Type: rt, Spec: policy.Normalize(rec.Spec), Accepted: true, PolicyRevision: rec.PolicyRevision}
	if m, ok := x.Spec.(map[string]any); ok {
		x.ID, _ = m[rt.IdentityKey].(string)
	}
	if x.ID == "" || x.Key() != rec.Key {
		return nil, fmt.Errorf("reads back as %q", x.Key())
	}
	return x, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// acceptedName and statusName are this instance's ConfigMaps: two Laiki
// installations (or CI pipelines) sharing a namespace keep apart memories.
func (r *Reconciler) acceptedName() string { return r.Applier.instance() + "-accepted" }

func (r *Reconciler) statusName() string { return r.Applier.instance() + "-status" }
