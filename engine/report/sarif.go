package report

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/version"
)

// srcRoot is the uriBaseId of the files of the checkout: code scanning
// resolves it to the repository's root. Its location is left out of the
// log: the working directory's absolute path says nothing to the reader
// (and is /work in the container of docs/ci.md).
const srcRoot = "%SRCROOT%"

// SARIF writes a SARIF 2.1.0 log (go-sarif, as conftest does) with one
// result per finding on a file of the checkout. Findings on files that are
// not in it (a platform file read from Git, another team's repository)
// cannot be placed on the repository's files: each is a run-level
// notification naming its source and place. A fault (exit 2) makes the
// invocation unsuccessful, with the fault as an error notification, so
// that the upload step of a failed job still shows why.
func SARIF(w io.Writer, r *pipeline.Result) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("laiki", "https://github.com/laiki-platform/laiki")
	run.Tool.Driver.Version = ptr(version.String())
	run.Tool.Driver.Rules = []*sarif.ReportingDescriptor{}
	run.OriginalUriBaseIDs = map[string]*sarif.ArtifactLocation{
		srcRoot: {Description: text("the working directory laiki check ran in: the pull request's checkout")},
	}
	inv := run.AddInvocation(len(r.Faults) == 0)
	for _, fault := range r.Faults {
		inv.AddTToolExecutionNotification(&sarif.Notification{Level: "error", Message: text(fault)})
	}

	at := placesOf(r)
	index := map[string]uint{}
	for i, id := range sortedPolicies(r.Findings) {
		index[id] = uint(i)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule(r, id))
	}
	for _, f := range r.Findings {
		id := policyID(f)
		if !at.annotatable(f.Source, f.File) {
			inv.AddTToolExecutionNotification(&sarif.Notification{Level: level(f.Severity), Message: text(at.located(f)),
				AssociatedRule: &sarif.ReportingDescriptorReference{Id: ptr(id), Index: ptr(index[id])}})
			continue
		}
		res := sarif.NewRuleResult(id).WithRuleIndex(int(index[id])).WithLevel(level(f.Severity)).WithMessage(text(f.Message))
		res.AddLocation(sarifLocation(f.Location))
		// Kept per finding so that code scanning tracks the same alert
		// across pushes even when lines move.
		res.WithPartialFingerPrints(map[string]any{"laikiFinding/v1": fingerprint(f)})
		for i, rel := range f.Related {
			src := rel.Source
			if src == "" {
				src = f.Source
			}
			if !at.annotatable(src, rel.File) {
				continue // named in the message
			}
			l := sarifLocation(rel)
			l.Id = ptr(uint(i + 1))
			res.AddRelatedLocation(l)
		}
		run.AddResult(res)
	}
	log.AddRun(run)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifLocation(l finding.Location) *sarif.Location {
	region := &sarif.Region{StartLine: ptr(max(l.Line, 1))} // code scanning requires a line; the file's start is the honest default
	if l.Column > 0 {
		region.StartColumn = ptr(l.Column)
	}
	return &sarif.Location{PhysicalLocation: &sarif.PhysicalLocation{
		ArtifactLocation: &sarif.ArtifactLocation{URI: ptr(uri(l.File)), URIBaseId: ptr(srcRoot)},
		Region:           region,
	}}
}

// rule describes a policy in its author's words, from its Rego METADATA
// (title, description, related resources), so that code scanning shows the
// platform's own explanation next to each alert; a built-in check in
// Laiki's.
func rule(r *pipeline.Result, id string) *sarif.ReportingDescriptor {
	d := &sarif.ReportingDescriptor{ID: id, Name: ptr(id), ShortDescription: &sarif.MultiformatMessageString{Text: ptr(ruleDescription(id))}}
	if doc, ok := r.Policies.Doc(id); ok {
		if doc.Title != "" {
			d.ShortDescription.Text = ptr(doc.Title)
		}
		if doc.Description != "" {
			d.FullDescription = &sarif.MultiformatMessageString{Text: ptr(strings.TrimSpace(doc.Description))}
		}
		if len(doc.Related) > 0 {
			d.HelpURI = ptr(doc.Related[0])
			help := strings.TrimSpace(doc.Description)
			for _, ref := range doc.Related {
				help += "\n\nSee " + ref
			}
			d.Help = &sarif.MultiformatMessageString{Text: ptr(strings.TrimSpace(help))}
		}
	}
	return d
}

func level(s finding.Severity) string {
	switch s {
	case finding.Error, finding.Deny:
		return "error"
	case finding.Warn:
		return "warning"
	}
	return "note"
}

func text(s string) *sarif.Message { return &sarif.Message{Text: ptr(s)} }

func ptr[T any](v T) *T { return &v }

func fingerprint(f finding.Finding) string {
	return f.Source + "|" + f.File + "|" + f.Resource + "|" + f.Policy + "|" + f.Field + "|" + f.Message
}

func ruleDescription(id string) string {
	switch id {
	case finding.CheckDocument:
		return "Laiki document structure"
	case finding.CheckSource:
		return "Reading sources"
	case finding.CheckAccess:
		return "Source access control"
	case finding.CheckSchema:
		return "Spec schema"
	case finding.CheckBinding:
		return "Binding to targets and pre-processors"
	case finding.CheckIdentity:
		return "Unique identities"
	case finding.CheckNaming:
		return "Names Kubernetes can use"
	case finding.CheckPolicies:
		return "The platform's policies"
	case pipeline.CheckBudget:
		return "Budgets"
	}
	return "Rego policy " + id
}
