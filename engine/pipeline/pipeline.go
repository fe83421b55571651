// Package pipeline runs Laiki's pipeline, the same for `laiki check`, the
// admission webhook and the reconcile loop:
//
//	sources → documents → access control → binding and identity →
//	schema → pre-processors → schema again → governance → verdict
//
// The stages up to binding build an Index (index.go), which nothing changes
// after; the verdicts are given against it (Run, or Index.Admit for one
// document) and merged into the Result once. The engine's other packages
// are below it (document, source, types, schema, policy, kube) or read its
// Result (workflow, report, plan).
//
// Nothing here stops at the first problem: every stage records findings, and
// every resource that passes is accepted, so that one broken file never
// holds back the others.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/types"
)

// Options for one run.
type Options struct {
	Config *source.Config
	Load   source.Options
	Limits document.Limits
	// Parallelism of admission; GOMAXPROCS by default.
	Parallelism int
	// PolicyTimeout bounds one policy evaluation (default 5s): a policy that
	// runs away is stopped and reported, and the resource rejected.
	PolicyTimeout time.Duration
	// Documents are read besides the sources' (the webhook's objects from
	// the cluster), already parsed and admitted by their source.
	Documents []*document.Document
	// Loader reads the sources (source.Load by default); the reconcile loop
	// wraps it to keep the last good read of a source that fails.
	Loader func(context.Context, *source.Config, source.Options) []*source.Loaded
	// Decisions, kept from run to run by a long-lived caller (the reconcile
	// loop), spares evaluating the policies again for resources that did
	// not change; nil judges every resource.
	Decisions *Decisions
	// Parses, kept from run to run likewise, spares parsing again the files
	// that did not change; nil parses every file.
	Parses *Parses
	// Owners says which source owns each name a resource claims, as the
	// platform last accepted it (the reconcile loop's memory): Key() of a
	// resource, and CraneClaim of a Crane repository name. A later claim
	// from another source is refused at its own line and never changes the
	// owner's resource. Nil (laiki check) knows no owner: two sources that
	// claim one name are both refused.
	Owners map[string]string
	// Gate, where policies change while Laiki runs (operator, webhook),
	// runs a new policy set's tests and keeps the set in force when the new
	// one fails; without it a policy that does not compile stops the run.
	Gate *policy.Gate
}

// Resource is a resource document with what the pipeline made of it.
type Resource struct {
	Doc    *document.Document
	Type   *types.ResourceType
	ID     string             // the value of the type's identity key
	Target *document.Document // nil when the binding failed
	// Spec after pre-processors (the spec as written when it never got there).
	Spec    any
	Changes []policy.Change
	// PreProcessors that ran on it, in order.
	PreProcessors []*document.Document
	Accepted      bool
	// PolicyRevision is the revision of the policies that decided it (for
	// a held resource: that accepted it).
	PolicyRevision string
	// Held marks the last accepted version of a resource whose new version
	// is rejected, put back by Hold so that the platform keeps running it.
	Held bool
	// NotChecked marks a resource no verdict could be given on, because of
	// a fault of the platform's or Laiki's (Result.Faults): neither accepted
	// nor rejected.
	NotChecked bool
	// Fingerprint names everything its spec and verdict were decided from
	// (the document's source, file and text, its target's, its
	// pre-processors', the policies' revision): two resources with one
	// fingerprint are the same to a workflow. Set when the run keeps
	// Decisions; empty when not known (a document not read from text).
	Fingerprint string
	// specBytes is the size of Spec as JSON, once known (0: not yet), for
	// the budgets.
	specBytes int
}

// SpecBytes is the size of the spec as JSON: what a target's budget of
// spec bytes counts.
func (r *Resource) SpecBytes() int {
	if r.specBytes == 0 {
		raw, _ := json.Marshal(r.Spec)
		r.specBytes = len(raw)
	}
	return r.specBytes
}

// Key names a resource uniquely: type, target namespace, target name, id.
func (r *Resource) Key() string {
	return r.Doc.Type + " " + r.Doc.TargetNamespace + "/" + r.Doc.TargetName + "/" + r.ID // called per resource, often: not Sprintf
}

// Result is everything a run found and decided: the index its verdicts
// were given against, and the verdicts.
type Result struct {
	Index
	Sources   []*source.Loaded
	Documents []*document.Document
	Resources []*Resource
	Findings  []finding.Finding
	// Reload says which policy set decided and what became of the one read
	// (refused, with why); nil without a Gate.
	Reload *policy.Reload
	// ConfigFile is the sources file (laiki.yaml) the run read, if any: a
	// finding at a source's entry in it is on that file, whatever the
	// source.
	ConfigFile string
	// Faults say what kept Laiki from judging: a source it could not read,
	// policies that do not compile. They are not the teams' doing: `laiki
	// check` exits 2 on them, and the resources they would have decided on
	// are not checked rather than rejected (StandDown).
	Faults []string

	byDoc map[*document.Document][]finding.Finding
}

// FindingsFor returns the findings about one document.
func (r *Result) FindingsFor(d *document.Document) []finding.Finding { return r.byDoc[d] }

// InError reports whether a document has a blocking finding.
func (r *Result) InError(d *document.Document) bool {
	for _, f := range r.byDoc[d] {
		if f.Severity.Blocking() {
			return true
		}
	}
	return false
}

func (r *Result) add(d *document.Document, fs ...finding.Finding) {
	for _, f := range fs {
		if d != nil {
			if f.Resource == "" {
				f.Resource = identity(d)
			}
			if f.Source == "" {
				f.Source = d.Source.Name
			}
			r.byDoc[d] = append(r.byDoc[d], f)
		}
		r.Findings = append(r.Findings, f)
	}
}

// identity names a document in findings, before its id is known.
func identity(d *document.Document) string {
	switch d.Kind {
	case document.Target:
		return fmt.Sprintf("%s %s/%s", d.Type, d.Namespace, d.Name)
	case document.PreProcessor:
		return fmt.Sprintf("%s %s/%s", d.Type, d.Namespace, d.Name)
	case document.Resource:
		if d.Spec != nil {
			if rt, ok := types.Resource(d.Type); ok {
				if m, ok := d.Spec.(map[string]any); ok {
					if id, ok := m[rt.IdentityKey].(string); ok {
						return fmt.Sprintf("%s %s/%s/%s", d.Type, d.TargetNamespace, d.TargetName, id)
					}
				}
			}
		}
		return fmt.Sprintf("%s %s/%s (%s:%d)", d.Type, d.TargetNamespace, d.TargetName, d.File, d.Line)
	}
	return d.File
}

// AddWorkflowFindings records what the workflows found. A blocking finding
// about a resource (an app whose data repository cannot be had, say) takes
// back its acceptance, so that check, render and apply give one verdict.
func (r *Result) AddWorkflowFindings(fs []finding.Finding) {
	byKey := map[string]*Resource{}
	for _, res := range r.Resources {
		if res.ID != "" {
			byKey[res.Key()] = res
		}
	}
	for _, f := range fs {
		res, ok := byKey[f.Resource]
		if !ok {
			r.add(nil, f)
			continue
		}
		if !f.Severity.Blocking() && r.saidAt(res.Doc, f) {
			continue
		}
		r.add(res.Doc, f)
		if f.Severity.Blocking() {
			res.Accepted = false
		}
	}
	finding.Sort(r.Findings)
}

// saidAt reports whether a policy already says something at least as
// strong about the same field at the same place: a workflow's warning there
// (the pre-puller's upper-case image, next to the baseline's) would make the
// team read one problem twice.
func (r *Result) saidAt(d *document.Document, f finding.Finding) bool {
	if f.Field == "" {
		return false
	}
	for _, g := range r.byDoc[d] {
		if g.Field == f.Field && g.Location == f.Location && !g.Severity.Below(f.Severity) {
			return true
		}
	}
	return false
}

// Hold puts back the last accepted version of every resource that is
// rejected now, from last (by Key), so that a bad update never takes a
// running app away: the held copy is accepted, bound to the target of this
// run, and marked Held. A resource whose target is gone is not held (there
// is nothing to run it on). It returns the held copies.
func (r *Result) Hold(last map[string]*Resource) []*Resource {
	var held []*Resource
	done := map[string]bool{}
	for _, res := range r.Resources {
		if res.Accepted && res.ID != "" {
			done[res.Key()] = true // the owner's claim stands: nothing to hold for another's
		}
	}
	for _, res := range r.Resources {
		if res.Accepted || res.ID == "" || done[res.Key()] {
			continue
		}
		prev, ok := last[res.Key()]
		if !ok {
			continue
		}
		target, ok := r.targets[targetKey(prev.Doc.TargetNamespace, prev.Doc.TargetName)]
		if !ok {
			continue
		}
		done[res.Key()] = true
		held = append(held, holdCopy(prev, target))
	}
	r.Resources = append(r.Resources, held...)
	return held
}

// holdCopy is the held copy of a last accepted version, bound to target,
// on a document of its own: an unchanged file's document is the one this
// run read (Parses), and the findings of a run are by document, so the
// version held must not be the one rejected now.
func holdCopy(prev *Resource, target *document.Document) *Resource {
	h := *prev
	doc := *prev.Doc
	h.Doc, h.Target, h.Accepted, h.Held = &doc, target, true, true
	return &h
}

// HoldUnread puts back the last accepted version of every resource of the
// sources that could not be read (never since a restart, so no last read
// stands in for them): what they owned keeps running, and nothing else is
// held back. It returns the held copies.
func (r *Result) HoldUnread(last map[string]*Resource, unread []string) []*Resource {
	if len(unread) == 0 {
		return nil
	}
	gone := map[string]bool{}
	for _, s := range unread {
		gone[s] = true
	}
	present := map[string]bool{}
	for _, res := range r.Resources {
		if res.ID != "" {
			present[res.Key()] = true
		}
	}
	var held []*Resource
	for _, key := range slices.Sorted(maps.Keys(last)) {
		prev := last[key]
		if !gone[prev.Doc.Source.Name] || present[key] {
			continue
		}
		target, ok := r.targets[targetKey(prev.Doc.TargetNamespace, prev.Doc.TargetName)]
		if !ok {
			continue
		}
		held = append(held, holdCopy(prev, target))
	}
	r.Resources = append(r.Resources, held...)
	return held
}

// Summary counts what a run found.
type Summary struct {
	Documents int `json:"documents"`
	Accepted  int `json:"accepted"`
	Rejected  int `json:"rejected"`
	Denials   int `json:"denials"`
	Warnings  int `json:"warnings"`
	Errors    int `json:"errors"`
	Notices   int `json:"notices"`
	// NotChecked counts the resources a fault left without a verdict.
	NotChecked int `json:"not-checked,omitempty"`
}

// Summary counts documents, verdicts and findings.
func (r *Result) Summary() Summary {
	s := Summary{Documents: len(r.Documents)}
	for _, res := range r.Resources {
		switch {
		case res.Held:
			// counted as the rejected new version it stands in for
		case res.NotChecked:
			s.NotChecked++
		case res.Accepted:
			s.Accepted++
		default:
			s.Rejected++
		}
	}
	for _, f := range r.Findings {
		switch f.Severity {
		case finding.Error:
			s.Errors++
		case finding.Deny:
			s.Denials++
		case finding.Warn:
			s.Warnings++
		default:
			s.Notices++
		}
	}
	return s
}

// Failed reports whether anything was rejected or in error: the exit code 1 of
// `laiki check`.
func (r *Result) Failed() bool {
	s := r.Summary()
	return s.Rejected > 0 || s.Errors > 0 || s.Denials > 0
}

// Run loads the sources, compiles the policies, indexes the targets,
// pre-processors and identities, and decides every resource against that
// index. It returns an error only when Laiki itself cannot run (a platform
// policy that does not compile); everything else is a finding.
func Run(ctx context.Context, opts Options) (*Result, error) {
	res, err := index(ctx, opts)
	if err != nil {
		return res, err
	}
	res.admit(ctx, opts.Parallelism, opts.Decisions)
	if opts.Decisions != nil {
		opts.Decisions.m.Sweep()
	}
	if opts.Parses != nil {
		opts.Parses.m.Sweep()
	}
	res.budgetTargets(opts.Config)
	finding.Sort(res.Findings)
	return res, nil
}

// BuildIndex reads the sources and builds the index that documents are
// admitted against (Index.Admit), without judging the resources read: what
// the admission webhook judges each request against.
func BuildIndex(ctx context.Context, opts Options) (*Index, error) {
	res, err := index(ctx, opts)
	if err != nil {
		return nil, err
	}
	// A copy, so that what the index does not hold (the documents' findings,
	// the sources' files) is not kept alive with it.
	x := res.Index
	return &x, nil
}

// index runs the stages before the verdicts: sources, documents, access
// control, policies, targets, pre-processors, binding and identity. The
// Index is complete, and frozen, when it returns.
func index(ctx context.Context, opts Options) (*Result, error) {
	if len(types.ResourceNames()) == 0 {
		// Every document would be refused as of an unknown type.
		return &Result{}, errors.New("no resource types are registered: a program that runs the pipeline links engine/workflow, where the types register")
	}
	if opts.Limits == (document.Limits{}) {
		opts.Limits = document.DefaultLimits
	}
	if opts.Load.MaxFileBytes == 0 {
		opts.Load.MaxFileBytes = int64(opts.Limits.MaxFileBytes)
	}
	res := &Result{Index: Index{keys: keyRulesOf(opts.Config.PolicyData), Owners: opts.Owners, renamed: map[*document.Document][]finding.Finding{}},
		byDoc: map[*document.Document][]finding.Finding{}, ConfigFile: opts.Config.File}
	load := opts.Loader
	if load == nil {
		load = source.Load
	}
	res.Sources = load(ctx, opts.Config, opts.Load)
	modules, tests := res.read(opts)
	if err := res.compile(ctx, opts, modules, tests); err != nil {
		return res, err
	}
	usable := func(d *document.Document) bool { return !d.Broken && !res.InError(d) }
	res.indexTargets(usable)
	res.indexPreProcessors(ctx, usable)
	res.bindResources(usable)
	res.renamed = nil // said by now, where it is to be said
	res.freeze(res.byDoc)
	finding.Sort(res.Findings)
	return res, nil
}

// read parses the documents of every source, and of the cluster, with the
// access rules of their source, and gives the sources' Rego files.
func (res *Result) read(opts Options) (modules, tests []policy.Module) {
	modules, tests, refused := PolicyModules(res.Sources)
	res.add(nil, refused...)
	for _, l := range res.Sources {
		res.add(nil, l.Findings...)
		docsOf := map[string][]*document.Document{}
		for _, f := range l.Files {
			if isRego(f.Path) {
				continue
			}
			parsed := opts.Parses.read(l.Source.Ref(), f.Path, f.Data, opts.Limits)
			res.add(nil, parsed.findings...)
			for i, d := range parsed.documents {
				res.Documents = append(res.Documents, d)
				docsOf[f.Path] = append(docsOf[f.Path], d)
				res.add(d, parsed.about[i]...)
				res.add(d, l.Source.Admit(d)...)
				if parsed.canonical[i] {
					res.renamed[d] = parsed.renamed[i]
				}
			}
		}
		res.budgetFiles(opts.Config, l, docsOf)
	}
	// Objects from the cluster are judged as their owning source's: its
	// access rules hold for them too (they may have changed since).
	for _, d := range opts.Documents {
		if src := opts.Config.Named(d.Source.Name); src != nil {
			res.add(d, src.Admit(d)...)
		}
	}
	res.Documents = append(res.Documents, opts.Documents...)
	return modules, tests
}

// compile makes the policy set in force (through the Gate where policies
// change while Laiki runs); a set that does not compile is a fault.
func (res *Result) compile(ctx context.Context, opts Options, modules, tests []policy.Module) error {
	var policies *policy.Policies
	var err error
	if opts.Gate != nil {
		policies, res.Reload, err = opts.Gate.Policies(ctx, modules, tests, opts.Config.PolicyData)
	} else {
		policies, err = policy.Compile(ctx, modules, opts.Config.PolicyData)
	}
	if err != nil {
		// What was read stays for the report, every resource in it not
		// checked: the policies' fault is not the teams'.
		res.compileFault(err, modules)
		return err
	}
	if res.Reload.Refused() {
		res.add(nil, finding.Finding{Severity: finding.Error, Location: res.Reload.Location, Policy: finding.CheckPolicies,
			Message: fmt.Sprintf("the platform's policies (revision %s) are refused, and revision %s stays in force: %v", res.Reload.Revision, res.Reload.InForce, res.Reload.Err)})
	}
	// The set may be in force for others too (the Gate's): this run's time
	// limit goes on a copy.
	res.Policies = policies.WithTimeout(opts.PolicyTimeout)
	res.add(nil, policies.Warnings...)
	return nil
}

func isRego(path string) bool { return strings.HasSuffix(path, ".rego") }

// PolicyModules gives the Rego files of the sources: the policies and their
// tests (run by the Gate and `laiki policy test`) of platform sources, and
// a finding for each Rego file of a team source, which is ignored.
func PolicyModules(loaded []*source.Loaded) (modules, tests []policy.Module, refused []finding.Finding) {
	for _, l := range loaded {
		for _, f := range l.Files {
			if !isRego(f.Path) {
				continue
			}
			if fs := l.Source.AdmitPolicy(f.Path); fs != nil {
				refused = append(refused, fs...)
				continue
			}
			m := policy.Module{File: f.Path, Source: l.Source.Name, Text: f.Data}
			if policy.IsTest(f.Path) {
				tests = append(tests, m)
			} else {
				modules = append(modules, m)
			}
		}
	}
	return modules, tests, refused
}

func targetKey(namespace, name string) string { return namespace + "/" + name }

// indexTargets checks every target and keeps the valid ones; two targets
// with one namespace and name are both in error.
func (r *Result) indexTargets(usable func(*document.Document) bool) {
	r.targets = map[string]*document.Document{}
	dups := map[string][]*document.Document{}
	warned := map[string]bool{}
	for _, d := range r.Documents {
		if d.Kind != document.Target || !usable(d) {
			continue
		}
		fs := checkTarget(d)
		for _, f := range fs {
			if f.Policy == finding.CheckNaming {
				if warned[d.Namespace] {
					continue // once per namespace is enough
				}
				warned[d.Namespace] = true
			}
			r.add(d, f)
		}
		dups[targetKey(d.Namespace, d.Name)] = append(dups[targetKey(d.Namespace, d.Name)], d)
	}
	for key, ds := range dups {
		if len(ds) > 1 {
			r.duplicates(ds, fmt.Sprintf("target %s", key))
			continue
		}
		if !r.InError(ds[0]) {
			r.targets[key] = ds[0]
			r.Targets = append(r.Targets, ds[0])
		}
	}
	sortDocs(r.Targets)
}

func (r *Result) indexPreProcessors(ctx context.Context, usable func(*document.Document) bool) {
	dups := map[string][]*document.Document{}
	for _, d := range r.Documents {
		if d.Kind != document.PreProcessor || !usable(d) {
			continue
		}
		r.add(d, r.checkPreProcessor(ctx, d)...)
		dups[targetKey(d.Namespace, d.Name)] = append(dups[targetKey(d.Namespace, d.Name)], d)
	}
	for key, ds := range dups {
		if len(ds) > 1 {
			r.duplicates(ds, fmt.Sprintf("pre-processor %s", key))
		}
	}
	// A platform pre-processor in error stays listed, whatever its error (a
	// misspelt pre-processor-name, a broken file): the resources of its
	// target-namespace (and target-name) are held back rather than deployed
	// without the platform's settings. One from a team source never counts,
	// or a team could hold back every app of a namespace.
	for _, d := range r.Documents {
		if d.Kind == document.PreProcessor && d.Source.Role == source.RolePlatform && d.Namespace != "" {
			r.PreProcessors = append(r.PreProcessors, d)
		}
	}
	sortDocs(r.PreProcessors)
}

// PreProcessorsFor returns the pre-processors that apply to a resource, in the
// order they run: those for the whole namespace first, then those narrowed to
// the resource's target; by name within each group. So a target's own
// pre-processor has the last word.
func (r *Index) PreProcessorsFor(d *document.Document) []*document.Document {
	var wide, narrow []*document.Document
	for _, pp := range r.PreProcessors {
		// One in error may hold any type: which types it would change is
		// not known.
		if pp.Namespace != d.TargetNamespace || (!r.Policies.AppliesTo(pp.Type, d.Type) && !r.inError(pp)) {
			continue
		}
		switch pp.TargetName {
		case "":
			wide = append(wide, pp)
		case d.TargetName:
			narrow = append(narrow, pp)
		}
	}
	byName := func(s []*document.Document) {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	}
	byName(wide)
	byName(narrow)
	return append(wide, narrow...)
}

func (r *Result) bindResources(usable func(*document.Document) bool) {
	ids := map[string][]*Resource{}
	r.claims = map[string][]*document.Document{}
	for _, d := range r.Documents {
		if d.Kind != document.Resource {
			continue
		}
		if !usable(d) {
			r.Resources = append(r.Resources, &Resource{Doc: d, Spec: d.Spec, PolicyRevision: r.Policies.Revision})
			continue
		}
		res, fs := r.bind(d)
		r.Resources = append(r.Resources, res)
		r.add(d, fs...)
		if res.ID != "" {
			ids[res.Key()] = append(ids[res.Key()], res)
			r.claims[res.Key()] = append(r.claims[res.Key()], d)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(ids)) {
		rs := ids[key]
		if len(rs) < 2 {
			continue
		}
		what := fmt.Sprintf("%s %s of a %s in target %s/%s", rs[0].Type.IdentityKey, rs[0].ID, rs[0].Doc.Type, rs[0].Doc.TargetNamespace, rs[0].Doc.TargetName)
		// The owner's claim stands; another source's is refused at its own
		// line. Within one source, a duplicate is one (and what ran stays).
		var mine, others []*document.Document
		owner := r.Owners[key]
		for _, x := range rs {
			if owner != "" && x.Doc.Source.Name == owner {
				mine = append(mine, x.Doc)
			} else {
				others = append(others, x.Doc)
			}
		}
		if len(mine) == 0 {
			r.duplicates(others, what)
			continue
		}
		for _, d := range others {
			r.add(d, finding.Finding{Severity: finding.Error, Location: d.PosOf(document.KeySpec, rs[0].Type.IdentityKey), Policy: finding.CheckIdentity,
				Related: []finding.Location{mine[0].Origin()}, Field: document.KeySpec + "." + rs[0].Type.IdentityKey,
				Message: fmt.Sprintf("%s belongs to source %s (%s), which declared it first: choose another %s", what, owner, mine[0].Where(), rs[0].Type.IdentityKey)})
		}
		if len(mine) > 1 {
			r.duplicates(mine, what)
		}
	}
}

// CraneClaim is the Owners key of a Crane repository name in a namespace
// (every Crane target an app can reach is in its namespace).
func CraneClaim(namespace, name string) string { return "Crane " + namespace + "/" + name }

// admit runs pre-processors and governance on every resource still standing,
// in parallel, each against the index; the findings are merged into the
// result once every resource is judged. A fixed set of workers takes the
// resources in turn rather than a goroutine each: OPA's evaluator recurses
// deeply, and a fresh goroutine's stack grows to that depth by copying
// itself several times (runtime.copystack was 11% of the CPU of a
// 10,000-app check), where a worker's stack, once grown, stays grown.
func (r *Result) admit(ctx context.Context, parallelism int, decisions *Decisions) {
	if parallelism <= 0 {
		parallelism = runtime.GOMAXPROCS(0)
	}
	var standing []int
	for i, res := range r.Resources {
		if res.Type != nil && res.Target != nil && !r.InError(res.Doc) {
			standing = append(standing, i)
		}
	}
	found := make([][]finding.Finding, len(r.Resources))
	var next atomic.Int64
	var g errgroup.Group
	for range min(parallelism, len(standing)) {
		g.Go(func() error {
			for k := int(next.Add(1) - 1); k < len(standing); k = int(next.Add(1) - 1) {
				i := standing[k]
				found[i] = r.judgeWithDecisions(ctx, r.Resources[i], decisions)
			}
			return nil
		})
	}
	_ = g.Wait() // judging returns no error: what goes wrong is a finding
	for i, fs := range found {
		r.add(r.Resources[i].Doc, fs...)
	}
}

// duplicates reports every declaration of the same identity, each naming all
// the others, and rejects them all: Laiki cannot know which one is meant.
func (r *Result) duplicates(ds []*document.Document, what string) {
	sortDocs(ds)
	for _, d := range ds {
		var others []string
		var related []finding.Location
		for _, o := range ds {
			if o != d {
				others = append(others, o.Where())
				related = append(related, o.Origin())
			}
		}
		r.add(d, finding.Finding{Severity: finding.Error, Location: d.Location(), Policy: finding.CheckIdentity, Related: related,
			Message: fmt.Sprintf("%s is declared more than once: also at %s", what, strings.Join(others, ", "))})
	}
}

func errorAt(d *document.Document, field, policy, format string, args ...any) finding.Finding {
	return finding.Finding{Severity: finding.Error, Location: d.PosOf(field), Policy: policy, Message: fmt.Sprintf(format, args...), Field: field}
}

func sortDocs(ds []*document.Document) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].File != ds[j].File {
			return ds[i].File < ds[j].File
		}
		return ds[i].Index < ds[j].Index
	})
}
