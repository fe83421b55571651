package pipeline

import (
	"fmt"
	"sort"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/source"
)

// One team can never starve the others: what a team source brings over its
// budget (source.Budget, set by the platform in laiki.yaml) is refused at
// the offending file or document, and held at its last accepted version by
// the reconcile loop, while the rest of it and every other source still
// deploy.

// CheckBudget is the policy name of budget findings.
const CheckBudget = "laiki/budget"

// budgetFiles refuses the documents of a source's files past its budget
// of files, bytes per file, bytes in all and documents (files in the order
// the source lists them).
func (r *Result) budgetFiles(cfg *source.Config, l *source.Loaded, docsOf map[string][]*document.Document) {
	b := cfg.BudgetOf(l.Source)
	if b == nil {
		return
	}
	files, bytes, docs := 0, 0, 0
	for _, f := range l.Files {
		if isRego(f.Path) {
			continue
		}
		files++
		bytes += len(f.Data)
		why := ""
		switch {
		case len(f.Data) > b.FileBytes:
			why = fmt.Sprintf("the file is %d bytes, over the budget of %d bytes a file", len(f.Data), b.FileBytes)
		case files > b.Files:
			why = fmt.Sprintf("it is file %d of the source, over the budget of %d files", files, b.Files)
		case bytes > b.SourceBytes:
			why = fmt.Sprintf("the source's files come to %d bytes with it, over the budget of %d bytes", bytes, b.SourceBytes)
		}
		ds := docsOf[f.Path]
		if why != "" && len(ds) == 0 {
			r.add(nil, finding.Finding{Severity: finding.Error, Location: finding.Location{File: f.Path}, Policy: CheckBudget, Source: l.Source.Name,
				Message: fmt.Sprintf("source %s: %s (budgets in laiki.yaml)", l.Source.Name, why)})
		}
		for _, d := range ds {
			docs++
			w := why
			if w == "" && docs > b.Documents {
				w = fmt.Sprintf("it is document %d of the source, over the budget of %d documents", docs, b.Documents)
			}
			if w != "" {
				r.add(d, finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: CheckBudget,
					Message: fmt.Sprintf("source %s: %s (budgets in laiki.yaml); not taken, and what ran of it keeps running", l.Source.Name, w)})
			}
		}
	}
}

// budgetTargets takes back the acceptance of a source's resources in a
// target past its budget of resources and of spec bytes there (in file
// order), so that no source grows a target's objects past what the API
// server takes for everyone.
func (r *Result) budgetTargets(cfg *source.Config) {
	type key struct{ source, namespace, target string }
	groups := map[key][]*Resource{}
	for _, res := range r.Resources {
		if res.Accepted && !res.Held {
			k := key{res.Doc.Source.Name, res.Doc.TargetNamespace, res.Doc.TargetName}
			groups[k] = append(groups[k], res)
		}
	}
	for k, rs := range groups {
		b := cfg.BudgetOf(cfg.Named(k.source))
		if b == nil {
			continue
		}
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Doc.File != rs[j].Doc.File {
				return rs[i].Doc.File < rs[j].Doc.File
			}
			return rs[i].Doc.Index < rs[j].Doc.Index
		})
		n, bytes := 0, 0
		for _, res := range rs {
			n++
			bytes += res.SpecBytes()
			why := ""
			switch {
			case n > b.ResourcesPerTarget:
				why = fmt.Sprintf("it is resource %d of source %s in target %s/%s, over the budget of %d", n, k.source, k.namespace, k.target, b.ResourcesPerTarget)
			case bytes > b.SpecBytesPerTarget:
				why = fmt.Sprintf("the specs of source %s in target %s/%s come to %d bytes with it, over the budget of %d bytes", k.source, k.namespace, k.target, bytes, b.SpecBytesPerTarget)
			}
			if why != "" {
				res.Accepted = false
				r.add(res.Doc, finding.Finding{Severity: finding.Error, Location: res.Doc.Location(), Policy: CheckBudget,
					Message: why + " (budgets in laiki.yaml); not taken, and what ran of it keeps running"})
			}
		}
	}
}
