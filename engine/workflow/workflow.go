// Package workflow turns the accepted resources into the desired state of
// every target: the merged ShinyProxy configuration, the PrePuller's
// DaemonSet, and so on. Workflows are pure (the engine's result in, desired
// state out, no I/O), so that `laiki render`, `laiki apply` and the reconcile
// loop share them. A type is its Go type in engine/api and one file here
// that registers, from init, everything else about it: its document type
// (engine/types: schema, binding, the target's settings key and its check)
// and its workflow (target type, the workflows it runs after, by name where
// nothing orders them, the kinds it makes, and, for `laiki explain`, the
// values it sets). The desired state of an external resource is a Go type
// the workflow and its provisioner (reconcile) share.
package workflow

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/registry"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/types"
)

// Workflow renders one aspect of a target.
type Workflow struct {
	Name       string
	TargetType string
	// After names the workflows of the same target type that must run
	// before this one (their output is its input). Workflows with no such
	// tie run by name, which is then only the order render lists them in.
	After []string
	// Makes lists the kinds of the Kubernetes objects it renders, as
	// "apiVersion kind" (apps/v1 DaemonSet), so that the reconcile loop knows
	// where to look for objects it made and no longer wants.
	Makes []string
	// Render fills out (the target's rendered configuration and objects)
	// and may add external resources to d. It reads the run through c
	// alone (never d's other targets, the clock or the environment): a
	// target's render is reused while c's answers stay the same (Renders).
	Render func(c *Context, t *document.Document, out *Target, d *Desired) []finding.Finding
	// Explain, when set, says why the workflow gave a field of a resource
	// the value the platform runs ("" when it did not), for `laiki explain`.
	Explain func(r *pipeline.Resource, field []string, value any) string
	// Renames maps the fields of the external resources it renders (of
	// type Renders) to the spec keys users write them as
	// (repository-name is an AwsEcrRepository's name).
	Renders string
	Renames map[string]string
}

var (
	registered = registry.New[*Workflow]("workflow")
	orderMu    sync.Mutex
	inOrder    []*Workflow // in run order, for the registry's version orderOf
	orderOf    = -1
)

// Register adds a workflow; a second one of the same name is a programming
// error.
func Register(w *Workflow) { registered.Add(w.Name, w) }

// Workflows lists every registered workflow in the order they run: each
// after those its After names, and by name where nothing orders them.
func Workflows() []*Workflow {
	orderMu.Lock()
	defer orderMu.Unlock()
	if registered.Version() != orderOf {
		all, version := registered.All()
		inOrder, orderOf = runOrder(all), version
	}
	return inOrder
}

// runOrder sorts workflows topologically by After, ties by name. A cycle or
// an unknown name is a programming error, found on the first render.
func runOrder(list []*Workflow) []*Workflow {
	ws := map[string]*Workflow{}
	for _, w := range list {
		ws[w.Name] = w
	}
	waiting := map[string]int{}
	next := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(ws)) {
		for _, before := range ws[name].After {
			if _, ok := ws[before]; !ok {
				panic(fmt.Sprintf("workflow %s runs after %s, which is not registered", name, before))
			}
			waiting[name]++
			next[before] = append(next[before], name)
		}
	}
	var ready, out []string
	for name := range ws {
		if waiting[name] == 0 {
			ready = append(ready, name)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		name := ready[0]
		ready = ready[1:]
		out = append(out, name)
		for _, n := range next[name] {
			if waiting[n]--; waiting[n] == 0 {
				ready = append(ready, n)
			}
		}
	}
	if len(out) != len(ws) {
		panic(fmt.Sprintf("workflows run after each other in a cycle: ran %v of %d", out, len(ws)))
	}
	ordered := make([]*Workflow, len(out))
	for i, name := range out {
		ordered[i] = ws[name]
	}
	return ordered
}

// Kinds lists every kind any workflow makes, as "apiVersion kind", sorted.
func Kinds() []string {
	seen := map[string]bool{}
	for _, w := range Workflows() {
		for _, k := range w.Makes {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Target is the desired state of one target.
type Target struct {
	TargetType string `json:"target-type" yaml:"target-type"`
	Name       string `json:"name" yaml:"name"`
	Namespace  string `json:"namespace" yaml:"namespace"`
	// Config is the target's own configuration as rendered (for ShinyProxy,
	// the whole application.yml).
	Config Ordered `json:"config" yaml:"config"`
	// Objects are the Kubernetes objects that deploy it.
	Objects []Ordered `json:"objects" yaml:"objects"`
	// Workflows that rendered it.
	Workflows []string `json:"workflows" yaml:"workflows"`
	// ConfigFile is the name the component reads its configuration under
	// (application.yml), for `render --out`; empty means config.
	ConfigFile string `json:"-" yaml:"-"`
	// JSON holds each object of Objects as JSON, once the render is done
	// (nil after Shed): written once, for the size check and for applying.
	JSON [][]byte `json:"-" yaml:"-"`
}

// ObjectJSON is the JSON of the target's object i: as the render wrote it,
// or written now from its tree.
func (t *Target) ObjectJSON(i int) ([]byte, error) {
	if len(t.JSON) == len(t.Objects) && t.JSON[i] != nil {
		return t.JSON[i], nil
	}
	return t.Objects[i].MarshalJSON()
}

// External is the desired state of something outside Kubernetes.
type External struct {
	Type            string `json:"type" yaml:"type"`
	Name            string `json:"name" yaml:"name"`
	TargetName      string `json:"target-name" yaml:"target-name"`
	TargetNamespace string `json:"target-namespace" yaml:"target-namespace"`
	Source          string `json:"source" yaml:"source"`
	File            string `json:"file" yaml:"file"`
	// Resource is the Key of the resource it is made for.
	Resource string  `json:"resource" yaml:"resource"`
	Desired  Ordered `json:"desired" yaml:"desired"`
	// Scope is where Name must be unique besides Type (a registry and
	// region): two resources, of any targets, may not make one thing.
	Scope string `json:"-" yaml:"-"`
}

// Desired is the desired state of the whole platform.
type Desired struct {
	Targets  []*Target  `json:"targets" yaml:"targets"`
	External []External `json:"external" yaml:"external"`
	// Findings of the workflows (a base configuration that lists apps, say).
	Findings []finding.Finding `json:"-" yaml:"-"`
}

// Context gives workflows the accepted resources. Workflows read the run
// through its methods only: a render is remembered (Renders) by the
// answers they gave.
type Context struct {
	result *pipeline.Result
	// now is the time the render is for (Options.Now), read through
	// Interval: one result at one time always renders the same.
	now      time.Time
	accepted []*pipeline.Resource
	// craneOwners: which app owns each Crane repository name, by namespace.
	craneOwners map[string]*pipeline.Resource
	// byTarget and byNamespace: accepted, by target and by namespace (made
	// at the first question: a remembered render asks its questions again,
	// and each went through every accepted resource).
	byTarget    map[*document.Document][]*pipeline.Resource
	byNamespace map[string][]*pipeline.Resource
	// asked records the questions of the target being rendered, for
	// Renders (nil: not recording).
	asked *questions
}

// Bound returns the accepted resources of a type bound to a target, by id.
func (c *Context) Bound(t *document.Document, resourceType string) []*pipeline.Resource {
	out := c.bound(t, resourceType)
	if c.asked != nil {
		c.asked.note(resourcesPrint(out), func(c *Context) string { return resourcesPrint(c.bound(c.sameTarget(t), resourceType)) })
	}
	return out
}

// sameTarget is the target of this run that t is (its type, namespace and
// name), nil when none: a question asked again in a later run names the
// target by what it is, not by the document read when it was asked.
func (c *Context) sameTarget(t *document.Document) *document.Document {
	for _, x := range c.result.Targets {
		if x.Type == t.Type && x.Namespace == t.Namespace && x.Name == t.Name {
			return x
		}
	}
	return nil
}

func (c *Context) bound(t *document.Document, resourceType string) []*pipeline.Resource {
	c.index()
	return ofType(c.byTarget[t], resourceType)
}

// index files the accepted resources by target and namespace, in order.
func (c *Context) index() {
	if c.byTarget != nil {
		return
	}
	c.byTarget, c.byNamespace = map[*document.Document][]*pipeline.Resource{}, map[string][]*pipeline.Resource{}
	for _, r := range c.accepted {
		c.byTarget[r.Target] = append(c.byTarget[r.Target], r)
		c.byNamespace[r.Doc.TargetNamespace] = append(c.byNamespace[r.Doc.TargetNamespace], r)
	}
}

func ofType(rs []*pipeline.Resource, resourceType string) []*pipeline.Resource {
	var out []*pipeline.Resource
	for _, r := range rs {
		if r.Doc.Type == resourceType {
			out = append(out, r)
		}
	}
	return out
}

// InNamespace returns the accepted resources of a type bound to any target of
// a namespace, by id then target.
func (c *Context) InNamespace(namespace, resourceType string) []*pipeline.Resource {
	out := c.inNamespace(namespace, resourceType)
	if c.asked != nil {
		c.asked.note(resourcesPrint(out), func(c *Context) string { return resourcesPrint(c.inNamespace(namespace, resourceType)) })
	}
	return out
}

func (c *Context) inNamespace(namespace, resourceType string) []*pipeline.Resource {
	c.index()
	return ofType(c.byNamespace[namespace], resourceType)
}

// Targets returns the valid targets of a type in a namespace.
func (c *Context) Targets(namespace, targetType string) []*document.Document {
	out := c.targets(namespace, targetType)
	if c.asked != nil {
		c.asked.note(docsPrint(out), func(c *Context) string { return docsPrint(c.targets(namespace, targetType)) })
	}
	return out
}

func (c *Context) targets(namespace, targetType string) []*document.Document {
	var out []*document.Document
	for _, t := range c.result.Targets {
		if t.Namespace == namespace && t.Type == targetType {
			out = append(out, t)
		}
	}
	return out
}

// Options are what a render depends on besides the engine's result.
type Options struct {
	// Now is the time to render for; zero is the time of the call. Only the
	// PrePuller's refresh reads it; tests (and `laiki apply --now`) set it.
	Now time.Time
	// FindingsOnly drops each target's configuration and objects once its
	// workflows and checks have run, so that a caller that wants only the
	// verdict (laiki check) holds one target's desired state at a time, not
	// the platform's. The findings are the same.
	FindingsOnly bool
	// Encoded keeps each target's objects as the JSON they rendered to
	// (Target.JSON, which the size check writes anyway) and drops their
	// trees and the target's configuration, keeping each object's identity,
	// once the target's workflows and checks have run: for a caller that
	// applies the objects (the reconcile loop), which then holds a few
	// hundred bytes per app until it applies instead of every app's
	// rendered tree (the trees of 10,000 apps were over 100 MB of a cold
	// start's peak heap).
	Encoded bool
	// Renders, kept from run to run by a caller that renders Encoded (the
	// reconcile loop), renders again only the targets whose inputs
	// changed; nil renders every target. The caller ends each run with
	// Renders.Sweep.
	Renders *Renders
}

// Render runs every workflow on every valid target, now (see RenderWith).
func Render(res *pipeline.Result) *Desired { return RenderWith(res, Options{}) }

// RenderWith runs every workflow on every valid target. Rejected resources
// are left out: one broken app never holds back the others. The same result
// at the same time always gives the same desired state.
func RenderWith(res *pipeline.Result, o Options) *Desired {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	c := &Context{result: res, now: o.Now.UTC()}
	if !o.Encoded || o.FindingsOnly {
		o.Renders = nil // it remembers whole encoded renders only
	}
	for _, r := range res.Resources {
		if r.Accepted {
			c.accepted = append(c.accepted, r)
		}
	}
	sort.SliceStable(c.accepted, func(i, j int) bool {
		a, b := c.accepted[i], c.accepted[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Doc.TargetNamespace+"/"+a.Doc.TargetName < b.Doc.TargetNamespace+"/"+b.Doc.TargetName
	})
	d := &Desired{Targets: []*Target{}, External: []External{}}
	targets := append([]*document.Document(nil), res.Targets...)
	sort.SliceStable(targets, func(i, j int) bool {
		a, b := targets[i], targets[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for _, t := range targets {
		if out, ok := o.Renders.replay(c, t, d); ok {
			d.Targets = append(d.Targets, out)
			continue
		}
		if o.Renders != nil {
			c.asked = &questions{}
		}
		external, found := len(d.External), len(d.Findings)
		out := &Target{TargetType: t.Type, Name: t.Name, Namespace: t.Namespace, Objects: []Ordered{}, Workflows: []string{}}
		out.Config = Ordered{clone(t.SpecNode())}
		if out.Config.Node == nil || out.Config.Kind != yaml.MappingNode {
			out.Config = Ordered{mapping()}
		}
		dropLaikiTargetKeys(out.Config.Node)
		// The settings resource types keep on the target are theirs, not
		// the component's configuration.
		for _, key := range types.SettingsKeys(t.Type) {
			remove(out.Config.Node, key)
		}
		for _, w := range Workflows() {
			if w.TargetType == t.Type {
				d.Findings = append(d.Findings, w.Render(c, t, out, d)...)
				out.Workflows = append(out.Workflows, w.Name)
			}
		}
		d.Findings = append(d.Findings, encode(t, out)...)
		switch {
		case o.FindingsOnly:
			out.Config, out.Objects, out.JSON = Ordered{}, nil, nil
		case o.Encoded:
			out.identities()
		}
		o.Renders.keep(t, c.asked, out, d.External[external:], d.Findings[found:])
		c.asked = nil
		d.Targets = append(d.Targets, out)
	}
	sort.SliceStable(d.External, func(i, j int) bool {
		a, b := d.External[i], d.External[j]
		return a.Type+"/"+a.TargetNamespace+"/"+a.TargetName+"/"+a.Name < b.Type+"/"+b.TargetNamespace+"/"+b.TargetName+"/"+b.Name
	})
	d.Findings = append(d.Findings, uniqueExternals(res, d)...)
	finding.Sort(d.Findings)
	return d
}

// uniqueExternals refuses two resources that would make one external thing
// (team-a/zeta from target sp-a with prefix team-a/, and from target sp-b
// with prefix "" and name team-a/zeta): the owner's (pipeline.Result.Owners)
// stands, and without one none does; the others are left out, with an
// error naming the rest, before anything is asked of the registry.
func uniqueExternals(res *pipeline.Result, d *Desired) []finding.Finding {
	byName := map[string][]int{}
	for i, x := range d.External {
		k := x.Type + "\x00" + x.Scope + "\x00" + x.Name
		byName[k] = append(byName[k], i)
	}
	resources := map[string]*pipeline.Resource{}
	for _, r := range res.Resources {
		if r.Accepted && r.ID != "" {
			resources[r.Key()] = r
		}
	}
	drop := map[int]bool{}
	var fs []finding.Finding
	for _, idx := range byName {
		if len(idx) < 2 {
			continue
		}
		winner := -1
		for _, i := range idx {
			if x := d.External[i]; res.Owners[x.Resource] != "" && res.Owners[x.Resource] == x.Source {
				if winner >= 0 {
					winner = -2 // two owners: none stands
				} else if winner == -1 {
					winner = i
				}
			}
		}
		for _, i := range idx {
			if i == winner {
				continue
			}
			drop[i] = true
			x := d.External[i]
			var others []string
			for _, j := range idx {
				if j != i {
					others = append(others, fmt.Sprintf("%s (%s, target %s/%s)", d.External[j].Resource, d.External[j].File, d.External[j].TargetNamespace, d.External[j].TargetName))
				}
			}
			if r := resources[x.Resource]; r != nil {
				f := errorAt(r.Doc, "laiki-spec", CheckWorkflow, "%s %s would also be made for %s: one name, one repository; choose another name",
					x.Type, x.Name, strings.Join(others, ", "))
				f.Resource = x.Resource
				fs = append(fs, f)
			}
		}
	}
	if len(drop) > 0 {
		kept := d.External[:0]
		for i, x := range d.External {
			if !drop[i] {
				kept = append(kept, x)
			}
		}
		d.External = kept
	}
	return fs
}

// RenderAndJudge renders the desired state now and records the workflows'
// findings in the result: what every entry point calls.
func RenderAndJudge(res *pipeline.Result) *Desired { return RenderAndJudgeWith(res, Options{}) }

// RenderAndJudgeWith is RenderAndJudge with options (the time to render for).
//
// A workflow may take back an app's acceptance late in a pass (the CRD
// check of its ShinyProxy target runs after the PrePuller of its namespace
// rendered): the pass is then run again on what stays accepted, so that no
// object pulls, mounts or lists an app that does not run. Each pass can
// only take acceptances back, so this ends; the findings of every pass are
// recorded once.
func RenderAndJudgeWith(res *pipeline.Result, o Options) *Desired {
	said := map[string]bool{}
	var all []finding.Finding
	for {
		before := acceptedCount(res)
		d := RenderWith(res, o)
		var fresh []finding.Finding
		for _, f := range d.Findings {
			if k := findingKey(f); !said[k] {
				said[k] = true
				fresh = append(fresh, f)
			}
		}
		res.AddWorkflowFindings(fresh)
		all = append(all, fresh...)
		if acceptedCount(res) == before {
			finding.Sort(all)
			d.Findings = all
			return d
		}
	}
}

func acceptedCount(res *pipeline.Result) int {
	n := 0
	for _, r := range res.Resources {
		if r.Accepted {
			n++
		}
	}
	return n
}

func findingKey(f finding.Finding) string {
	return fmt.Sprintf("%s|%s|%d|%d|%s|%s|%s|%s", f.Source, f.File, f.Line, f.Column, f.Severity, f.Policy, f.Resource, f.Message)
}

// KubeName maps a Laiki name to a Kubernetes one (see kube.Name).
func KubeName(name string) string { return kube.Name(name) }

// Labels Laiki puts on every object it makes, so that it prunes only its own.
func managedLabels(t *document.Document, component string) map[string]any {
	return map[string]any{
		kube.LabelManagedBy: kube.ManagedByLaiki,
		kube.LabelComponent: component,
		kube.LabelTarget:    KubeName(t.Name),
	}
}

func errorAt(d *document.Document, field, policy, format string, args ...any) finding.Finding {
	return finding.Finding{Severity: finding.Error, Location: d.PosOf(field), Policy: policy, Source: d.Source.Name,
		Message: fmt.Sprintf(format, args...), Field: field}
}

// MaxObjectBytes is about what the API server stores in one object (etcd's
// request limit is 1.5 MiB): an object larger than this would fail to
// apply, and the one running would stay.
const MaxObjectBytes = 1_400_000

// encode writes each rendered object of the target as JSON (Target.JSON)
// and says, at the target, which one is too large for the API server: the
// budgets of laiki.yaml are what keep it under.
func encode(t *document.Document, out *Target) []finding.Finding {
	var fs []finding.Finding
	out.JSON = make([][]byte, len(out.Objects))
	for i, o := range out.Objects {
		raw, err := o.MarshalJSON()
		if err != nil {
			continue // left to Applier.Objects, which says why
		}
		out.JSON[i] = raw
		if len(raw) <= MaxObjectBytes {
			continue
		}
		kind := ""
		if k := get(o.Node, "kind"); k != nil {
			kind = k.Value
		}
		fs = append(fs, finding.Finding{Severity: finding.Error, Policy: CheckWorkflow, Location: t.Location(), Source: t.Source.Name,
			Message: fmt.Sprintf("the %s of target %s/%s would be %d bytes, more than the API server takes (about %d): the one running stays; lower the teams' budgets (spec-bytes-per-target) in laiki.yaml",
				kind, t.Namespace, t.Name, len(raw), MaxObjectBytes)})
	}
	return fs
}

// DecodeExternal reads an External's desired state into the Go type of its
// kind (EcrRepository, EcrCreationTemplate).
func DecodeExternal(x External, v any) error {
	raw, err := json.Marshal(x.Desired)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	return nil
}

// Shed drops the content of every target's configuration and objects and
// keeps each object's identity (apiVersion, kind, metadata.name and
// namespace): what a caller that has converted the objects for applying
// still reads, without keeping every app's rendered tree alive while it
// applies.
func (d *Desired) Shed() {
	for _, t := range d.Targets {
		t.identities()
		t.JSON = nil
	}
}

// identities drops the target's configuration and keeps of each object
// only its identity (see Shed).
func (t *Target) identities() {
	t.Config = Ordered{}
	for i, o := range t.Objects {
		id := mapping()
		for _, key := range []string{"apiVersion", "kind"} {
			if v := get(o.Node, key); v != nil {
				set(id, key, v)
			}
		}
		if md := get(o.Node, "metadata"); md != nil {
			kept := mapping()
			for _, key := range []string{"name", "namespace"} {
				if v := get(md, key); v != nil {
					set(kept, key, v)
				}
			}
			set(id, "metadata", kept)
		}
		t.Objects[i] = Ordered{id}
	}
}
