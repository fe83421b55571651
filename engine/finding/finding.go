// Package finding holds what every stage of the engine reports: a severity,
// a place in a file the user wrote, a message and the policy that said it.
// Every stage appends findings instead of failing, so that one bad file never
// hides what is wrong (or right) with the others.
package finding

import (
	"fmt"
	"sort"
)

// Severity orders findings from blocking to informative.
type Severity string

const (
	// Error: the document cannot be understood or is not allowed where it is
	// (bad YAML, wrong types, unknown target, access control).
	Error Severity = "error"
	// Deny: a governance rule rejected the resource.
	Deny Severity = "deny"
	// Warn: accepted, but someone should look.
	Warn Severity = "warn"
	// Notice: information only, such as a YAML file that is not a Laiki document.
	Notice Severity = "notice"
)

// Blocking reports whether a finding of this severity rejects what it is about.
func (s Severity) Blocking() bool { return s == Error || s == Deny }

// Below reports whether s is less severe than o.
func (s Severity) Below(o Severity) bool { return s.rank() > o.rank() }

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Deny:
		return 1
	case Warn:
		return 2
	}
	return 3
}

// Location is a place in a file; Line and Column start at 1, 0 means unknown.
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Source names the source the file is in, for a related location (two
	// team repositories may both hold app.yaml); a finding's own source is
	// Finding.Source.
	Source string `json:"source,omitempty"`
}

func (l Location) String() string {
	switch {
	case l.Line == 0:
		return l.File
	case l.Column == 0:
		return fmt.Sprintf("%s:%d", l.File, l.Line)
	}
	return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Column)
}

// Finding is one thing Laiki has to say about the input.
type Finding struct {
	Severity Severity `json:"severity"`
	Location
	Message string `json:"message"`
	// Policy names what said it: a Rego package such as
	// laiki.governance.baseline, or a built-in check such as laiki/document.
	Policy string `json:"policy,omitempty"`
	// Source is the name of the source (laiki.yaml) the file came from.
	Source string `json:"source,omitempty"`
	// Resource is the identity of the document it is about, when there is one.
	Resource string `json:"resource,omitempty"`
	// Field is the path inside the document, e.g. laiki-spec.container-image.
	Field string `json:"field,omitempty"`
	// Related lists the other places involved (the first declaration of a
	// duplicate, say).
	Related []Location `json:"related,omitempty"`
}

// Built-in check names, used as Policy for findings that no Rego policy made.
const (
	CheckDocument = "laiki/document"
	CheckSource   = "laiki/source"
	CheckAccess   = "laiki/access"
	CheckSchema   = "laiki/schema"
	CheckBinding  = "laiki/binding"
	CheckIdentity = "laiki/identity"
	CheckNaming   = "laiki/naming"
	CheckPolicies = "laiki/policies" // the platform's policy set itself (refused on reload)
)

// AnyBlocking reports whether one of the findings rejects what it is about.
func AnyBlocking(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity.Blocking() {
			return true
		}
	}
	return false
}

// Sort orders findings by file, line, column, then severity, so that output
// is stable whatever order the parallel stages finished in.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		return a.Message < b.Message
	})
}
