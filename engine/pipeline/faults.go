package pipeline

import (
	"errors"
	"fmt"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
)

// Findings that stand when the platform could not be read in full: they are
// about a file as it is (its YAML, its size, the source's own access rules),
// whatever the platform holds.
var standing = map[string]bool{
	finding.CheckDocument: true,
	finding.CheckSource:   true,
	finding.CheckAccess:   true,
	CheckBudget:           true,
	finding.CheckPolicies: true,
}

// StandDown is what a one-off check (not the operator, which holds the last
// good read of a source) makes of a fault. A source that could not be read
// is a fault; when it is a platform source, the targets, pre-processors and
// rules the teams' resources depend on may be missing, so no resource is
// judged: each is not checked, and only the findings about files as they
// are stand (no "no target" blamed on a team for the platform's outage). A
// failed team source leaves the other teams' verdicts as they are. It
// reports whether the run has a fault.
func (r *Result) StandDown() bool {
	platformDown := false
	for _, l := range r.Sources {
		if !l.Failed {
			continue
		}
		why := fmt.Sprintf("source %s (%s) could not be read", l.Source.Name, l.Source.Describe())
		for _, f := range l.Findings {
			if f.Severity.Blocking() {
				why = f.Message // names the source already
				break
			}
		}
		r.Faults = append(r.Faults, why)
		platformDown = platformDown || l.Source.Role == source.RolePlatform
	}
	if platformDown {
		r.notChecked()
	}
	return len(r.Faults) > 0
}

// notChecked takes every verdict back and keeps the standing findings.
func (r *Result) notChecked() {
	keep := func(fs []finding.Finding) []finding.Finding {
		out := fs[:0]
		for _, f := range fs {
			if standing[f.Policy] {
				out = append(out, f)
			}
		}
		return out
	}
	r.Findings = keep(r.Findings)
	for d, fs := range r.byDoc {
		r.byDoc[d] = keep(fs)
	}
	for _, res := range r.Resources {
		res.Accepted, res.NotChecked = false, true
	}
}

// compileFault records policies that do not compile: a fault, with a
// finding at each error's file and line (a platform policy in the checkout
// of the platform's own pull request is annotated there), and every
// resource read not checked.
func (r *Result) compileFault(err error, modules []policy.Module) {
	r.Faults = append(r.Faults, "a policy does not compile:\n"+err.Error())
	var ce *policy.CompileError
	if errors.As(err, &ce) {
		sourceOf := map[string]string{}
		for _, m := range modules {
			sourceOf[m.File] = m.Source
		}
		for _, e := range ce.Errors {
			f := finding.Finding{Severity: finding.Error, Policy: finding.CheckPolicies, Message: e.Message}
			if e.Location != nil {
				f.Location = finding.Location{File: e.Location.File, Line: e.Location.Row, Column: e.Location.Col}
				f.Source = sourceOf[e.Location.File]
			}
			r.add(nil, f)
		}
	}
	for _, d := range r.Documents {
		if d.Kind == document.Resource {
			r.Resources = append(r.Resources, &Resource{Doc: d, NotChecked: true})
		}
	}
	r.notChecked()
	finding.Sort(r.Findings)
}
