package pipeline

import (
	"context"
	"fmt"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/source"
)

// Verdict is the decision on one document admitted on its own.
type Verdict struct {
	// Resource is the resource with its spec after pre-processors (nil for
	// targets and pre-processors).
	Resource *Resource
	Findings []finding.Finding
	Allowed  bool
	// PolicyRevision is the revision of the policies that decided.
	PolicyRevision string
}

// Admit decides one document against the index of a run, as the admission
// webhook does for one object: the same access control, binding, identity,
// schema, pre-processors and governance as Run, so that `kubectl apply` and
// `laiki check` give one verdict. A document of the run whose File is the
// same as d's is d's earlier version, not a duplicate. The index does not
// change, so requests are admitted concurrently.
func (r *Index) Admit(ctx context.Context, d *document.Document, src *source.Source) Verdict {
	return r.admit1(ctx, d, src, true)
}

// AdmitForMutation is Admit without governance: what the mutating webhook
// needs (the pre-processors' spec, and every refusal that comes before
// governance), leaving governance to the validating webhook, which the API
// server calls next with the mutated object. It halves the work of an
// admission.
func (r *Index) AdmitForMutation(ctx context.Context, d *document.Document, src *source.Source) Verdict {
	return r.admit1(ctx, d, src, false)
}

func (r *Index) admit1(ctx context.Context, d *document.Document, src *source.Source, govern bool) Verdict {
	v := Verdict{PolicyRevision: r.Policies.Revision}
	finish := func() Verdict {
		for i := range v.Findings {
			if v.Findings[i].Resource == "" {
				v.Findings[i].Resource = identity(d)
			}
			if v.Findings[i].Source == "" {
				v.Findings[i].Source = d.Source.Name
			}
		}
		finding.Sort(v.Findings)
		v.Allowed = !finding.AnyBlocking(v.Findings)
		return v
	}
	v.Findings = append(v.Findings, src.Admit(d)...)
	if d.Broken || finding.AnyBlocking(v.Findings) {
		return finish()
	}
	switch d.Kind {
	case document.Target:
		v.Findings = append(v.Findings, checkTarget(d)...)
		if other, ok := r.targets[targetKey(d.Namespace, d.Name)]; ok && other.File != d.File {
			v.Findings = append(v.Findings, duplicateOf(d, other, "target "+targetKey(d.Namespace, d.Name)))
		}
	case document.PreProcessor:
		v.Findings = append(v.Findings, r.checkPreProcessor(ctx, d)...)
		for _, other := range r.PreProcessors {
			if other.Namespace == d.Namespace && other.Name == d.Name && other.File != d.File {
				v.Findings = append(v.Findings, duplicateOf(d, other, "pre-processor "+targetKey(d.Namespace, d.Name)))
			}
		}
	case document.Resource:
		res, fs := r.bind(d)
		v.Resource = res
		v.Findings = append(v.Findings, fs...)
		if finding.AnyBlocking(v.Findings) {
			return finish()
		}
		for _, other := range r.claims[res.Key()] {
			if other.File != d.File {
				v.Findings = append(v.Findings, duplicateOf(d, other, fmt.Sprintf("%s %s of a %s in target %s/%s",
					res.Type.IdentityKey, res.ID, d.Type, d.TargetNamespace, d.TargetName)))
			}
		}
		if finding.AnyBlocking(v.Findings) {
			return finish()
		}
		v.Findings = append(v.Findings, r.judgeWith(ctx, res, govern)...)
	}
	return finish()
}

func duplicateOf(d, other *document.Document, what string) finding.Finding {
	return finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: finding.CheckIdentity, Related: []finding.Location{other.Origin()},
		Message: fmt.Sprintf("%s is declared more than once: also at %s", what, other.Where())}
}
