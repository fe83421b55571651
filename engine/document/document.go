// Package document reads Laiki documents: YAML with `laiki-metadata` and
// `laiki-spec` at the top. It keeps the YAML tree of every document so that
// any finding, however late in the pipeline, can point at the line the user
// wrote.
package document

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Kind tells targets, resources and pre-processors apart.
type Kind string

const (
	Target       Kind = "target"
	Resource     Kind = "resource"
	PreProcessor Kind = "pre-processor"
)

// Top-level keys of a Laiki document.
const (
	KeyMetadata = "laiki-metadata"
	KeySpec     = "laiki-spec"
	KeySource   = "laiki-source" // added to the policy input, never in files
)

// Metadata keys.
const (
	MetaTargetType       = "target-type"
	MetaResourceType     = "resource-type"
	MetaPreProcessorName = "pre-processor-name"
	MetaName             = "name"
	MetaNamespace        = "namespace"
	MetaTargetName       = "target-name"
	MetaTargetNamespace  = "target-namespace"
)

// kindKeys lists, per kind, the metadata keys it requires and those it allows.
var kindKeys = map[Kind]struct{ required, optional []string }{
	Target:       {required: []string{MetaTargetType, MetaName, MetaNamespace}},
	Resource:     {required: []string{MetaResourceType, MetaTargetName, MetaTargetNamespace}},
	PreProcessor: {required: []string{MetaPreProcessorName, MetaName, MetaTargetNamespace}, optional: []string{MetaTargetName}},
}

// MetadataKeys lists the laiki-metadata keys a kind of document requires
// (the first names its type) and those it allows besides.
func MetadataKeys(k Kind) (required, optional []string) {
	keys := kindKeys[k]
	return append([]string(nil), keys.required...), append([]string(nil), keys.optional...)
}

// SourceRef says where a document came from and what that source may do.
type SourceRef struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Document is one Laiki document of a file.
type Document struct {
	Source SourceRef
	File   string // as shown to the user: relative to the working directory or the repository
	Index  int    // 0-based position among the YAML documents of the file
	// Digest names the document's text (its file's content and its place
	// in it), so that a decision on it can be reused while neither changes;
	// empty for documents that were not read from text.
	Digest string
	Line   int // line of the document's first key
	Column int

	Kind Kind
	// Type is the target-type, resource-type or pre-processor-name.
	Type string
	// Name and Namespace: a target's name and namespace, a pre-processor's
	// name and target-namespace.
	Name, Namespace string
	// TargetName and TargetNamespace bind a resource (or narrow a
	// pre-processor) to a target.
	TargetName, TargetNamespace string

	Metadata map[string]any
	// Spec is laiki-spec as plain values: nil, or usually map[string]any.
	Spec any

	// Broken is set when the document could not be read far enough to take
	// part in the pipeline; its findings say why.
	Broken bool

	// pos is where every key and item is written (PosOf); the YAML tree it
	// is made from is dropped once the document is read (see positions).
	pos      *positions
	specPos  int32    // laiki-spec's node in pos, -1 when not a mapping or list
	specKeys []string // laiki-spec's keys in the order written (SpecKeys)
	// specNode is kept for targets only (SpecNode).
	specNode *yaml.Node
}

// SpecNode is the YAML tree of laiki-spec as written (nil when absent), for
// workflows that keep the platform's own spelling and key order: the
// configuration of a target. Kept for targets only: a run holds every
// document to the end, and the trees of thousands of apps were half of its
// memory. Other documents keep SpecKeys and where each key is (PosOf).
func (d *Document) SpecNode() *yaml.Node { return d.specNode }

// SpecKeys lists the keys of laiki-spec in the order they are written, as
// renamed by RenameSpecKey (merge keys included, as <<); nil when
// laiki-spec is not written as a mapping (an alias of one included), as
// the keys of SpecNode would be.
func (d *Document) SpecKeys() []string { return d.specKeys }

// Location of the document itself.
func (d *Document) Location() finding.Location {
	return finding.Location{File: d.File, Line: d.Line, Column: d.Column}
}

// Origin is Location with the source's name: a related location, which may
// be in another source than the finding's.
func (d *Document) Origin() finding.Location {
	l := d.Location()
	l.Source = d.Source.Name
	return l
}

// Where names the document's place for a message about another document:
// its source, file and line (team-a:apps/one.yaml:6). The source comes
// first because the reader of the message (a pull request, kubectl) may
// know another source's files by no other name: two team repositories can
// both hold app.yaml.
func (d *Document) Where() string {
	if d.Source.Name == "" {
		return fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	return fmt.Sprintf("%s:%s:%d", d.Source.Name, d.File, d.Line)
}

// Describe names the document for messages: "ShinyProxyApp in ShinyProxy/ShinyProxy".
func (d *Document) Describe() string {
	switch d.Kind {
	case Target:
		return fmt.Sprintf("%s target %s/%s", d.Type, d.Namespace, d.Name)
	case PreProcessor:
		if d.TargetName != "" {
			return fmt.Sprintf("%s pre-processor %s/%s (target %s)", d.Type, d.Namespace, d.Name, d.TargetName)
		}
		return fmt.Sprintf("%s pre-processor %s/%s", d.Type, d.Namespace, d.Name)
	case Resource:
		return fmt.Sprintf("%s bound to %s/%s", d.Type, d.TargetNamespace, d.TargetName)
	}
	return "document"
}

// PosOf returns where a field of the document is written. The path starts
// below the top level: ("laiki-spec", "container-env", "A"), or a single
// dotted string. When the field is not in the file (a pre-processor added it),
// the nearest enclosing field that is written is returned.
func (d *Document) PosOf(path ...string) finding.Location {
	loc := d.Location()
	if len(path) == 1 && strings.Contains(path[0], ".") {
		path = strings.Split(path[0], ".")
	}
	if d.pos == nil {
		return loc
	}
	n := int32(0)
	for _, seg := range path {
		k, ok := d.pos.child(n, seg)
		if !ok {
			break
		}
		loc.Line, loc.Column = int(k.line), int(k.col)
		n = k.node
	}
	return loc
}

// RenameSpecKey renames a key of a map inside laiki-spec (path leads to
// the map, from the spec's top) in the document's YAML tree, so that the
// findings and renders that follow the tree find it under its new name.
// The spec's values are the caller's to change.
func (d *Document) RenameSpecKey(path []string, from, to string) {
	if d.pos != nil {
		if n := d.pos.mapping(d.specPos, path); n >= 0 {
			nd := d.pos.nodes[n]
			for i := nd.first; i < nd.first+nd.n; i++ {
				if k := &d.pos.kids[i]; k.key == from && !k.merge {
					k.key = to
				}
			}
			if n == d.specPos && d.specKeys != nil {
				d.specKeys = d.specKeys[:0]
				for _, k := range d.pos.kids[nd.first : nd.first+nd.n] {
					d.specKeys = append(d.specKeys, k.key)
				}
			}
		}
	}
	// A target keeps its tree, which is rendered.
	renameInTree(d.specNode, path, from, to)
}

// renameInTree renames the key from to to in the mapping at path of a
// spec's tree (merge keys stay what they are).
func renameInTree(spec *yaml.Node, path []string, from, to string) {
	n := deref(spec)
	for _, seg := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				next = n.Content[i+1]
			}
		}
		n = deref(next)
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == from && k.Tag != "!!merge" {
			k.Value = to
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Result is what parsing one file gives.
type Result struct {
	Documents []*Document
	// Findings about the file as a whole (bad YAML, skipped documents).
	Findings []finding.Finding
	// ByDocument holds the findings about each document.
	ByDocument map[*Document][]finding.Finding
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the errors of yaml.v3's parser (as opposed to its
// scanner). yaml.v3 reports their line 0-based (decode.go, parser.fail), one
// less than the line a user sees; they are the line where the construct that
// is not closed starts.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'": true, "did not find expected ',' or '}'": true,
	"did not find expected '-' indicator": true, "did not find expected <document start>": true,
	"did not find expected key": true, "did not find expected node content": true,
	"found duplicate %TAG directive": true, "found duplicate %YAML directive": true,
	"found incompatible YAML document": true, "found undefined tag handle": true,
}

// ParseNode reads one document given as a YAML tree rather than text (an
// object from the Kubernetes API, converted in memory): the same checks as
// Parse, without writing the tree out and reading it back. Its nodes carry
// no lines.
func ParseNode(src SourceRef, file string, top *yaml.Node, limits Limits) Result {
	res := Result{ByDocument: map[*Document][]finding.Finding{}}
	if top == nil || top.Kind != yaml.MappingNode || !hasKey(top, KeyMetadata, KeySpec) {
		res.Findings = append(res.Findings, finding.Finding{Severity: finding.Error, Location: finding.Location{File: file},
			Message: "not a Laiki document (no laiki-metadata and laiki-spec at the top)", Policy: finding.CheckDocument, Source: src.Name})
		return res
	}
	d, fs := build(src, file, 0, top, limits)
	if d.Line == 0 {
		d.Line, d.Column = 1, 1 // an object is one document: its first line
	}
	res.Documents = append(res.Documents, d)
	res.ByDocument[d] = fs
	return res
}

// Parse reads every YAML document of a file. It never fails: problems are
// findings, with the file and line, and the documents before a syntax error
// are kept.
func Parse(src SourceRef, file string, data []byte, limits Limits) Result {
	res := Result{ByDocument: map[*Document][]finding.Finding{}}
	at := func(sev finding.Severity, line, col int, format string, args ...any) {
		res.Findings = append(res.Findings, finding.Finding{
			Severity: sev, Location: finding.Location{File: file, Line: line, Column: col},
			Message: fmt.Sprintf(format, args...), Policy: finding.CheckDocument, Source: src.Name,
		})
	}
	if len(data) > limits.MaxFileBytes {
		at(finding.Error, 0, 0, "file is %d bytes, more than the %d a Laiki file may have", len(data), limits.MaxFileBytes)
		return res
	}
	// Blanks only are an empty file, as nothing is: no documents, nothing to
	// say (yaml.v3 would call a tab among them an error).
	if len(bytes.TrimSpace(data)) == 0 {
		return res
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:16])
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for index := 0; ; index++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := 0, err.Error()
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
				if parserProblems[msg] {
					line++
				}
			}
			at(finding.Error, line, 0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
			break
		}
		if index >= limits.MaxDocuments {
			at(finding.Error, root.Line, root.Column, "more than %d YAML documents in one file", limits.MaxDocuments)
			break
		}
		top := deref(&root)
		if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
			top = deref(top.Content[0])
		}
		if top == nil || top.Kind != yaml.MappingNode || !hasKey(top, KeyMetadata, KeySpec) {
			line := 1
			if top != nil && top.Line > 0 {
				line = top.Line
			}
			if top == nil || top.Kind == yaml.DocumentNode || (top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
				continue // an empty document, such as a trailing ---
			}
			at(finding.Notice, line, 0, "not a Laiki document (no laiki-metadata and laiki-spec at the top); skipped")
			continue
		}
		d, fs := build(src, file, index, top, limits)
		d.Digest = fmt.Sprintf("%s/%d", digest, index)
		res.Documents = append(res.Documents, d)
		res.ByDocument[d] = fs
	}
	return res
}

func hasKey(m *yaml.Node, keys ...string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		for _, k := range keys {
			if m.Content[i].Value == k {
				return true
			}
		}
	}
	return false
}

// build reads one document whose top level is a mapping with laiki keys,
// and keeps where its keys are instead of its tree (see positions).
func build(src SourceRef, file string, index int, top *yaml.Node, limits Limits) (*Document, []finding.Finding) {
	d, fs := read(src, file, index, top, limits)
	d.pos, d.specPos = &positions{}, -1
	var seen map[*yaml.Node]int32
	d.pos.add(top, &seen)
	if d.specNode != nil {
		// The value of the first laiki-spec, as read (a second one is an
		// error).
		if k, ok := d.pos.child(0, KeySpec); ok {
			d.specPos = k.node
		}
		if d.specNode.Kind == yaml.MappingNode && len(d.specNode.Content) > 1 {
			d.specKeys = make([]string, 0, len(d.specNode.Content)/2)
			for i := 0; i+1 < len(d.specNode.Content); i += 2 {
				d.specKeys = append(d.specKeys, d.specNode.Content[i].Value)
			}
		}
	}
	if d.Kind != Target {
		d.specNode = nil
	}
	return d, fs
}

// read reads one document whose top level is a mapping with laiki keys.
func read(src SourceRef, file string, index int, top *yaml.Node, limits Limits) (*Document, []finding.Finding) {
	r := &reader{d: &Document{Source: src, File: file, Index: index, Line: top.Line, Column: top.Column}}
	metaNode, specKey := r.topKeys(top)
	if metaNode == nil {
		r.fail(top, "missing laiki-metadata")
		return r.d, r.fs
	}
	if specKey == nil {
		r.fail(top, "missing laiki-spec (it may be empty, but it must be there)")
	}
	r.spec(limits)
	// values is read's, not metadata's, so that it stays off the heap.
	values := map[string]*yaml.Node{}
	meta, ok := r.metadata(metaNode, values)
	if !ok || !r.kind(meta, values) {
		return r.d, r.fs
	}
	r.metadataKeys(metaNode, values)
	r.d.setIdentity()
	return r.d, r.fs
}

// reader holds a document being read and its findings so far.
type reader struct {
	d  *Document
	fs []finding.Finding
}

// fail reports an error at n (the document's start if nil) and marks the
// document broken.
func (r *reader) fail(n *yaml.Node, format string, args ...any) {
	d := r.d
	line, col := d.Line, d.Column
	if n != nil {
		line, col = n.Line, n.Column
	}
	r.fs = append(r.fs, finding.Finding{
		Severity: finding.Error, Location: finding.Location{File: d.File, Line: line, Column: col},
		Message: fmt.Sprintf(format, args...), Policy: finding.CheckDocument, Source: d.Source.Name,
	})
	d.Broken = true
}

// topKeys reads the top-level keys: it returns laiki-metadata's value and
// laiki-spec's key (nil when missing), keeps laiki-spec's value as
// specNode, and reports a key given twice or unknown.
func (r *reader) topKeys(top *yaml.Node) (metaNode, specKey *yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			r.fail(k, "%s is already defined at line %d", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		switch k.Value {
		case KeyMetadata:
			metaNode = v
		case KeySpec:
			specKey, r.d.specNode = k, v
		default:
			r.fail(k, "unknown top-level key %q: a Laiki document has only laiki-metadata and laiki-spec (is it indented under laiki-spec?)", k.Value)
		}
	}
	return metaNode, specKey
}

// spec converts laiki-spec to plain values, within limits.
func (r *reader) spec(limits Limits) {
	d := r.d
	if d.specNode == nil {
		return
	}
	c := converter{limits: limits}
	spec, err := c.value(d.specNode, 1)
	if err != nil {
		var ne *NodeError
		if errors.As(err, &ne) {
			r.fail(&yaml.Node{Line: ne.Line, Column: ne.Column}, "%s", ne.Msg)
		} else {
			r.fail(d.specNode, "%v", err)
		}
	}
	d.Spec = spec
}

// metadata reads laiki-metadata into Metadata and the key node of each key
// into values; it returns the map node, not ok when laiki-metadata is not a
// map.
func (r *reader) metadata(metaNode *yaml.Node, values map[string]*yaml.Node) (meta *yaml.Node, ok bool) {
	meta = deref(metaNode)
	if meta.Kind != yaml.MappingNode {
		r.fail(meta, "laiki-metadata must be a map of keys such as target-type, name and namespace")
		return meta, false
	}
	r.d.Metadata = map[string]any{}
	for i := 0; i+1 < len(meta.Content); i += 2 {
		k, v := meta.Content[i], deref(meta.Content[i+1])
		if _, dup := values[k.Value]; dup {
			r.fail(k, "laiki-metadata.%s is already defined at line %d", k.Value, values[k.Value].Line)
			continue
		}
		values[k.Value] = k
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" || strings.TrimSpace(v.Value) == "" {
			r.fail(v, "laiki-metadata.%s must be a non-empty string", k.Value)
			continue
		}
		r.d.Metadata[k.Value] = v.Value
	}
	return meta, true
}

// kind sets the document's Kind from the key that names its type; false
// when there is none or more than one.
func (r *reader) kind(meta *yaml.Node, values map[string]*yaml.Node) bool {
	var kinds []Kind
	for _, kd := range []Kind{Target, Resource, PreProcessor} {
		if _, ok := values[kindKeys[kd].required[0]]; ok {
			kinds = append(kinds, kd)
		}
	}
	switch len(kinds) {
	case 0:
		r.fail(meta, "laiki-metadata needs one of target-type, resource-type or pre-processor-name")
		return false
	case 1:
		r.d.Kind = kinds[0]
		return true
	default:
		r.fail(meta, "laiki-metadata has %s and %s: a document is one of target, resource or pre-processor", kindKeys[kinds[0]].required[0], kindKeys[kinds[1]].required[0])
		return false
	}
}

// metadataKeys reports the metadata keys the document's kind does not
// allow, in the order written, and those it requires that are missing.
func (r *reader) metadataKeys(metaNode *yaml.Node, values map[string]*yaml.Node) {
	d := r.d
	allowed := map[string]bool{}
	for _, k := range append(append([]string{}, kindKeys[d.Kind].required...), kindKeys[d.Kind].optional...) {
		allowed[k] = true
	}
	var unknown []string
	for k := range values {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Slice(unknown, func(i, j int) bool { return values[unknown[i]].Line < values[unknown[j]].Line })
	for _, k := range unknown {
		r.fail(values[k], "unknown key laiki-metadata.%s for a %s (allowed: %s)", k, d.Kind, strings.Join(slices.Sorted(maps.Keys(allowed)), ", "))
	}
	for _, k := range kindKeys[d.Kind].required {
		if _, ok := values[k]; !ok {
			r.fail(metaNode, "a %s needs laiki-metadata.%s", d.Kind, k)
		}
	}
}

// setIdentity sets Type, names and namespaces from the metadata, as the
// document's kind names them.
func (d *Document) setIdentity() {
	str := func(k string) string { s, _ := d.Metadata[k].(string); return s }
	switch d.Kind {
	case Target:
		d.Type, d.Name, d.Namespace = str(MetaTargetType), str(MetaName), str(MetaNamespace)
	case Resource:
		d.Type, d.TargetName, d.TargetNamespace = str(MetaResourceType), str(MetaTargetName), str(MetaTargetNamespace)
	case PreProcessor:
		d.Type, d.Name, d.Namespace, d.TargetName = str(MetaPreProcessorName), str(MetaName), str(MetaTargetNamespace), str(MetaTargetName)
		d.TargetNamespace = d.Namespace
	}
}

// Input is the document as policies see it: laiki-metadata, laiki-spec and
// laiki-source. The spec given replaces the document's own (a pre-processor's
// output, say).
func (d *Document) Input(spec any) map[string]any {
	meta := make(map[string]any, len(d.Metadata))
	for k, v := range d.Metadata {
		meta[k] = v
	}
	return map[string]any{
		KeyMetadata: meta,
		KeySpec:     spec,
		KeySource:   map[string]any{"name": d.Source.Name, "role": d.Source.Role},
	}
}
