package pipeline

import (
	"context"
	"crypto/sha256"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/runmemory"
	"github.com/laiki-platform/laiki/engine/policy"
)

// Decisions remembers what the pre-processors and governance decided about
// each resource, from one run to the next of a long-lived caller (the
// reconcile loop): a resource whose text, pre-processors and target are
// those of last time, under the same policies, gets the same decision
// without evaluating the policies again. With thousands of apps and one
// changed, a run judges one. Entries not used by a run are dropped at its
// end, so it holds no more than one run's decisions.
type Decisions struct{ m runmemory.Memory[*decision] }

type decision struct {
	spec      any
	specBytes int // the spec's size as JSON, once a run asked (budgets)
	changes   []cachedChange
	findings  []finding.Finding
	accepted  bool
}

// cachedChange is a Change with its pre-processor as a position in the
// resource's list: the same text may be another document in another run
// (read anew, without Parses, or after a Parses entry was swept).
type cachedChange struct {
	field []string
	pp    int
	rule  string
}

// key names a decision: everything judge reads. Empty when a part has no
// digest (a document not read from text): such a resource is judged anew.
func (r *Index) decisionKey(res *Resource, pps []*document.Document) string {
	d := res.Doc
	if d.Digest == "" || res.Target == nil || res.Target.Digest == "" || r.Policies == nil {
		return ""
	}
	// A digest of the parts, not the parts: kept for every resource (as
	// its Fingerprint and in the memory), the parts were 6 MB at 10,000
	// apps.
	h := sha256.New()
	for _, part := range []string{r.Policies.Revision, d.Type, d.Source.Name, d.Source.Role, d.File, d.Digest, res.Target.Source.Name, res.Target.Source.Role, res.Target.File, res.Target.Digest} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, pp := range pps {
		if pp.Digest == "" {
			return ""
		}
		h.Write([]byte(pp.Source.Name + "\x00" + pp.Source.Role + "\x00" + pp.File + "\x00" + pp.Digest + "\x00"))
	}
	return string(h.Sum(nil))
}

// judgeWithDecisions is judge, reusing the decision of an earlier run when
// nothing it depends on changed. A decision with an error finding (a policy
// that timed out, say) is not kept: it may not happen again.
func (r *Index) judgeWithDecisions(ctx context.Context, res *Resource, c *Decisions) []finding.Finding {
	if c == nil {
		return r.judge(ctx, res)
	}
	pps := r.PreProcessorsFor(res.Doc)
	key := r.decisionKey(res, pps)
	if key == "" {
		return r.judge(ctx, res)
	}
	res.Fingerprint = key
	if d, ok := c.m.Get(key); ok {
		res.Spec, res.Accepted, res.PreProcessors, res.specBytes = d.spec, d.accepted, pps, d.specBytes
		res.Changes = make([]policy.Change, len(d.changes))
		for i, ch := range d.changes {
			res.Changes[i] = policy.Change{Field: ch.field, PreProcessor: pps[ch.pp], Rule: ch.rule}
		}
		return append([]finding.Finding(nil), d.findings...)
	}
	fs := r.judge(ctx, res)
	for _, f := range fs {
		if f.Severity == finding.Error {
			return fs
		}
	}
	d := &decision{spec: res.Spec, accepted: res.Accepted, findings: append([]finding.Finding(nil), fs...)}
	if res.Accepted {
		d.specBytes = res.SpecBytes() // what the budgets count, each run
	}
	for _, ch := range res.Changes {
		for i, pp := range res.PreProcessors {
			if pp == ch.PreProcessor {
				d.changes = append(d.changes, cachedChange{field: ch.Field, pp: i, rule: ch.Rule})
			}
		}
	}
	c.m.Put(key, d)
	return fs
}
