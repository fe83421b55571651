// Package plan says what a pull request changes in the running platform:
// which resources its merge adds, removes or changes, and, for a change,
// which of its effective settings (the spec after pre-processors, what the
// platform deploys) differ. It compares two runs of the engine, on the
// pull request's base and on its checkout.
package plan

import (
	"cmp"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// Kind is what the merge does to a resource in the running platform.
//
// Only accepted resources run, and the plan follows the reconcile loop
// (pipeline.Result.Hold, HoldUnread): a resource whose new version is
// rejected keeps running its last accepted version, so a rejected update
// changes nothing in the platform. It is Held, not Changed, with the diff
// the platform refuses. A new resource that is rejected will not run: it
// is Rejected, not Added. A resource rejected before and after runs
// neither time and is not in the plan (the findings say why).
//
// The base's accepted resources stand for what runs now: a version held
// from earlier still (the operator's memory) is not known here.
type Kind string

const (
	// Added: accepted in the checkout, not running before.
	Added Kind = "added"
	// Changed: accepted on both sides, with effective settings that differ.
	Changed Kind = "changed"
	// Removed: running before, gone from the checkout (a file deleted, or a
	// document that no longer says which resource it is), or rejected with
	// its target gone, so that nothing holds it.
	Removed Kind = "removed"
	// Held: running before, rejected in the checkout (or its source could
	// not be read): the platform keeps the running version.
	Held Kind = "held"
	// Rejected: new in the checkout, or changed from a version that was not
	// running either, and rejected: it will not run.
	Rejected Kind = "rejected"
)

// kinds orders the plan: what will run differently first.
var kinds = []Kind{Added, Changed, Removed, Held, Rejected}

// Plan is what a pull request changes in the running platform.
type Plan struct {
	// Base is what the plan compares with as the user named it
	// (origin/main), and BaseCommit the commit that was; set by the caller.
	Base       string   `json:"base,omitempty"`
	BaseCommit string   `json:"base-commit,omitempty"`
	Changes    []Change `json:"changes"`
	// Unchanged counts the resources that run before and after with the
	// same effective settings.
	Unchanged int `json:"unchanged"`
}

// Change is one resource the merge changes.
type Change struct {
	Resource string `json:"resource"` // pipeline.Resource.Key()
	Kind     Kind   `json:"kind"`
	// File and Line of the checkout's version; the base's for a resource
	// removed, or held because its source could not be read. Source names
	// the source the file is in (a Git source's file is named inside it).
	File   string `json:"file"`
	Line   int    `json:"line"`
	Source string `json:"source"`
	// Accepted is the checkout's verdict (false when it has no version).
	Accepted bool `json:"accepted"`
	// Diff is what differs: in the effective settings for Changed; for
	// Held, the change refused, between the two versions as written (one
	// rejected before the pre-processors has no effective settings). Empty
	// otherwise.
	Diff []FieldChange `json:"diff,omitempty"`
}

// FieldChange is one setting that differs, at its dotted path from
// laiki-spec (laiki-spec.container-memory-limit; a key that is not a plain
// name is quoted: laiki-spec.container-env["A.B"]). Before or After is nil
// when the setting is not there on that side. A list is one setting.
type FieldChange struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Count returns how many changes are of a kind.
func (p *Plan) Count(k Kind) int {
	n := 0
	for _, c := range p.Changes {
		if c.Kind == k {
			n++
		}
	}
	return n
}

// Compare says what changes in the platform from the run on base to the
// run on head. Resources without an identity (a document broken before
// its id could be read) have no place in the platform and are left out.
func Compare(base, head *pipeline.Result) *Plan {
	before, after := running(base), running(head)
	tried, triedBefore := versions(head), versions(base)
	p := &Plan{}
	for key, now := range after {
		was, ok := before[key]
		if !ok {
			p.add(now, Added, true, nil)
		} else if d := Diff(was.Spec, now.Spec); len(d) > 0 {
			p.add(now, Changed, true, d)
		} else {
			p.Unchanged++
		}
	}
	unread, targets := unreadSources(head), targetsOf(head)
	for key, was := range before {
		if _, ok := after[key]; ok {
			continue
		}
		now, has := tried[key]
		holds := targets[targetOf(was.Doc)] && (has || unread[was.Doc.Source.Name])
		switch {
		case holds && has:
			// As written on both sides: a version rejected before the
			// pre-processors has no effective settings to compare.
			p.add(now, Held, false, Diff(was.Doc.Spec, now.Doc.Spec))
		case holds:
			p.add(was, Held, false, nil)
		default:
			p.add(was, Removed, false, nil)
		}
	}
	for key, now := range tried {
		_, runs := after[key]
		_, ran := before[key]
		if prev, ok := triedBefore[key]; runs || ran || ok && len(Diff(prev.Spec, now.Spec)) == 0 {
			continue // running, seen above; or rejected as before
		}
		p.add(now, Rejected, false, nil)
	}
	p.sort()
	return p
}

// add lists a resource at the file and line of the version given, with the
// checkout's verdict.
func (p *Plan) add(r *pipeline.Resource, k Kind, accepted bool, diff []FieldChange) {
	p.Changes = append(p.Changes, Change{Resource: r.Key(), Kind: k, File: r.Doc.File, Line: r.Doc.Line, Source: r.Doc.Source.Name, Accepted: accepted, Diff: diff})
}

// sort orders the changes by kind, then by resource: the same plan for the
// same two runs.
func (p *Plan) sort() {
	sort.SliceStable(p.Changes, func(i, j int) bool {
		a, b := p.Changes[i], p.Changes[j]
		if a.Kind != b.Kind {
			return slices.Index(kinds, a.Kind) < slices.Index(kinds, b.Kind)
		}
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.File, b.File)) < 0
	})
}

// running gives the accepted resources of a run by key: what the platform
// runs after it.
func running(r *pipeline.Result) map[string]*pipeline.Resource {
	out := map[string]*pipeline.Resource{}
	for _, res := range r.Resources {
		if res.Accepted && res.ID != "" {
			if _, dup := out[res.Key()]; !dup {
				out[res.Key()] = res
			}
		}
	}
	return out
}

// versions gives the rejected resources of a run by key (the first of a
// key declared twice, in the run's order).
func versions(r *pipeline.Result) map[string]*pipeline.Resource {
	out := map[string]*pipeline.Resource{}
	for _, res := range r.Resources {
		if !res.Accepted && res.ID != "" {
			if _, dup := out[res.Key()]; !dup {
				out[res.Key()] = res
			}
		}
	}
	return out
}

// unreadSources names the sources a run could not read: the reconcile loop
// keeps running what they had.
func unreadSources(r *pipeline.Result) map[string]bool {
	out := map[string]bool{}
	for _, l := range r.Sources {
		if l.Failed {
			out[l.Source.Name] = true
		}
	}
	return out
}

// targetsOf gives the valid targets of a run: a held resource needs one to
// run on.
func targetsOf(r *pipeline.Result) map[string]bool {
	out := map[string]bool{}
	for _, t := range r.Targets {
		out[t.Namespace+"/"+t.Name] = true
	}
	return out
}

func targetOf(d *document.Document) string { return d.TargetNamespace + "/" + d.TargetName }

// Diff lists the settings that differ between two specs, by path.
func Diff(before, after any) []FieldChange {
	b, a := map[string]any{}, map[string]any{}
	flatten(b, document.KeySpec, before)
	flatten(a, document.KeySpec, after)
	var out []FieldChange
	for p, v := range b {
		if w, ok := a[p]; !ok || !Equal(v, w) {
			out = append(out, FieldChange{Path: p, Before: v, After: w})
		}
	}
	for p, w := range a {
		if _, ok := b[p]; !ok {
			out = append(out, FieldChange{Path: p, After: w})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// flatten puts every setting of v into out by its path: maps are walked,
// anything else (a list included) is one setting. An empty map is one
// too, so that "container-env: {}" appearing is seen; a null is no
// setting, as for ShinyProxy.
func flatten(out map[string]any, at string, v any) {
	m, ok := v.(map[string]any)
	switch {
	case v == nil:
		return
	case !ok || len(m) == 0:
		out[at] = v
		return
	}
	for k, e := range m {
		flatten(out, at+segment(k), e)
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// segment is a key as a step of a dotted path.
func segment(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// Equal reports whether two settings are the same, numbers by value (1
// and 1.0 are one CPU, whether YAML or a pre-processor wrote them).
func Equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, Equal)
	}
	return reflect.DeepEqual(a, b)
}

// number gives a numeric setting as a float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
