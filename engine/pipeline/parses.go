package pipeline

import (
	"crypto/sha256"
	"fmt"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/runmemory"
	"github.com/laiki-platform/laiki/engine/types"
)

// Parses remembers the documents read from each file, from one run to the
// next of a long-lived caller (the reconcile loop): a file whose source,
// path and content are those of last time gives last time's documents,
// without parsing it again. With thousands of files and one changed, a run
// reads one (parsing every file was a fifth of the CPU of a change run at
// 10,000 apps). Nothing changes a document once it is read (its keys are
// put in their canonical spelling as it is read, here), so one document
// can serve several runs; a run's findings about it are the run's own.
type Parses struct{ m runmemory.Memory[*readFile] }

// readFile is one file as read: its documents, what parsing said about the
// file and about each document, and what reading each resource's keys in
// their canonical spelling said (nil for the others), by the document's
// place in documents. Slices, not maps: one is kept per file, and 10,000
// small maps were megabytes.
type readFile struct {
	documents []*document.Document
	findings  []finding.Finding
	about     [][]finding.Finding
	renamed   [][]finding.Finding
	canonical []bool // whether renamed was made: a resource of a known type
}

// read parses a file, or gives its documents of the last run (p nil: always
// parses).
func (p *Parses) read(src document.SourceRef, path string, data []byte, limits document.Limits) *readFile {
	if p == nil {
		return readDocuments(src, path, data, limits)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00", src.Name, src.Role, path, limits)
	h.Write(data)
	key := string(h.Sum(nil))
	if f, ok := p.m.Get(key); ok {
		return f
	}
	f := readDocuments(src, path, data, limits)
	p.m.Put(key, f)
	return f
}

// readDocuments parses a file and renames the keys of each resource's spec
// to their canonical spelling, keeping the warnings for when the resource
// is bound (a resource refused before, by its source's access rules say,
// is never told about its spelling).
func readDocuments(src document.SourceRef, path string, data []byte, limits document.Limits) *readFile {
	parsed := document.Parse(src, path, data, limits)
	n := len(parsed.Documents)
	f := &readFile{documents: parsed.Documents, findings: parsed.Findings,
		about: make([][]finding.Finding, n), renamed: make([][]finding.Finding, n), canonical: make([]bool, n)}
	for i, d := range parsed.Documents {
		f.about[i] = parsed.ByDocument[d]
		if d.Kind != document.Resource || d.Broken {
			continue
		}
		if rt, ok := types.Resource(d.Type); ok {
			f.renamed[i], f.canonical[i] = canonicalKeys(d, rt.Schema), true
		}
	}
	return f
}
