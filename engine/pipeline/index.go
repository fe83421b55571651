package pipeline

import (
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
)

// Index is what a verdict is given against: the valid targets, the
// platform's pre-processors, the identities the resources claim, who owns
// each claimed name, and the policies. A run builds it once, before any
// resource is judged, and nothing changes it after: the workers of a run
// and the admission webhook's requests (BuildIndex) judge against one at
// the same time, without locks.
type Index struct {
	Targets []*document.Document // valid targets only
	// PreProcessors are the platform's, those in error too (they hold back
	// the resources they apply to).
	PreProcessors []*document.Document
	Policies      *policy.Policies
	// Owners is Options.Owners: who owns each claimed name.
	Owners map[string]string

	keys    keyRules                        // policy-data.baseline's rules for the keys of team resources
	targets map[string]*document.Document   // valid targets by namespace/name
	claims  map[string][]*document.Document // the documents that claim each resource Key()
	blocked map[*document.Document]bool     // documents with a blocking finding when the index was made
	// renamed holds the warnings of reading each document's keys in their
	// canonical spelling, done as the run read it, until bind reports them
	// (a document admitted on its own is renamed as it is bound).
	renamed map[*document.Document][]finding.Finding
}

// freeze records which documents are in error as the index is made: what
// the index says of them from then on, whatever the verdicts add.
func (x *Index) freeze(byDoc map[*document.Document][]finding.Finding) {
	x.blocked = map[*document.Document]bool{}
	for d, fs := range byDoc {
		if finding.AnyBlocking(fs) {
			x.blocked[d] = true
		}
	}
}

// inError reports whether a document was in error when the index was made.
func (x *Index) inError(d *document.Document) bool { return x.blocked[d] }
