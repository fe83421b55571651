package workflow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// Origin says where one field of a resource, as the platform runs it, came from.
type Origin struct {
	Field string `json:"field"`
	Value any    `json:"value"`
	// By is "file" (the user wrote it), "pre-processor" or "workflow".
	By string `json:"by"`
	// From is the file and line, the pre-processor and its rule, or the workflow.
	From string `json:"from"`
}

// Explanation is one resource as the platform will run it.
type Explanation struct {
	Resource string            `json:"resource"`
	File     string            `json:"file"`
	Line     int               `json:"line"`
	Accepted bool              `json:"accepted"`
	Findings []finding.Finding `json:"findings"`
	Fields   []Origin          `json:"fields"`
}

// Explain finds the resources with that target namespace and id (or name)
// and tells, field by field, where each value came from.
func Explain(res *pipeline.Result, d *Desired, namespace, id string) []Explanation {
	var out []Explanation
	for _, r := range res.Resources {
		if r.Doc.TargetNamespace != namespace || r.ID != id {
			continue
		}
		e := Explanation{Resource: r.Key(), File: r.Doc.File, Line: r.Doc.Line, Accepted: r.Accepted,
			Findings: append([]finding.Finding{}, res.FindingsFor(r.Doc)...), Fields: []Origin{}}
		final := renderedNode(d, r)
		if final == nil {
			final = node(r.Spec) // rejected or not rendered: the spec as far as it got
		}
		walk(final, nil, func(path []string, v *yaml.Node) {
			e.Fields = append(e.Fields, origin(r, path, v))
		})
		out = append(out, e)
	}
	return out
}

// renderedNode finds the resource in the desired state: a ShinyProxy app
// under proxy.specs of its target, an external resource by the resource it
// is made for (its name may carry the platform's prefix).
func renderedNode(d *Desired, r *pipeline.Resource) *yaml.Node {
	if d == nil || r.Target == nil {
		return nil
	}
	for _, e := range d.External {
		if e.Type == r.Doc.Type && e.Resource == r.Key() {
			return e.Desired.Node
		}
	}
	for _, t := range d.Targets {
		if t.TargetType != r.Target.Type || t.Name != r.Target.Name || t.Namespace != r.Target.Namespace {
			continue
		}
		for _, app := range specsOf(t.Config.Node) {
			if idNode := get(app, "id"); idNode != nil && idNode.Value == r.ID {
				return app
			}
		}
	}
	return nil
}

func specsOf(cfg *yaml.Node) []*yaml.Node {
	if s := get(get(cfg, "proxy"), "specs"); s != nil {
		return s.Content
	}
	return nil
}

// walk visits the leaves of a tree, and maps one level down (container-env
// entries each have their own origin), lists as a whole.
func walk(n *yaml.Node, path []string, visit func([]string, *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode && len(path) < 2 {
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], append(append([]string(nil), path...), n.Content[i].Value), visit)
		}
		return
	}
	visit(path, n)
}

func origin(r *pipeline.Resource, path []string, v *yaml.Node) Origin {
	var value any
	raw, _ := Ordered{v}.MarshalJSON()
	_ = json.Unmarshal(raw, &value)
	o := Origin{Field: strings.Join(path, "."), Value: value}
	full := append([]string{document.KeySpec}, path...)

	if alias, ok := renamedField(r.Doc.Type, o.Field); ok {
		path, full = []string{alias}, []string{document.KeySpec, alias}
	}
	user, written := lookup(r.Doc.Spec, path)
	if written && reflect.DeepEqual(normalizeJSON(user), value) {
		loc := r.Doc.PosOf(full...)
		o.By, o.From = "file", loc.String()
		return o
	}
	// The last pre-processor change that covers the field set it.
	for i := len(r.Changes) - 1; i >= 0; i-- {
		ch := r.Changes[i]
		if covers(ch.Field, full) {
			if _, after := lookup(r.Spec, path); after {
				o.By = "pre-processor"
				o.From = fmt.Sprintf("%s %s/%s (%s:%d)", ch.PreProcessor.Type, ch.PreProcessor.Namespace, ch.PreProcessor.Name,
					ch.PreProcessor.File, ch.PreProcessor.Line)
				if ch.Rule != "" {
					o.From += ", " + ch.Rule
				}
				return o
			}
		}
	}
	// A workflow that says it set the field.
	for _, w := range Workflows() {
		if w.Explain == nil {
			continue
		}
		if why := w.Explain(r, path, value); why != "" {
			o.By, o.From = "workflow", w.Name+" ("+why+")"
			return o
		}
	}
	if _, after := lookup(r.Spec, path); after {
		o.By, o.From = "pre-processor", "a pre-processor"
		return o
	}
	o.By, o.From = "workflow", "a workflow"
	return o
}

// renamedField is the spec key a field of a resource's rendered external
// state is written as, when the workflow that renders it names it otherwise.
func renamedField(resourceType, field string) (string, bool) {
	for _, w := range Workflows() {
		if w.Renders == resourceType {
			if alias, ok := w.Renames[field]; ok {
				return alias, true
			}
		}
	}
	return "", false
}

// covers reports whether a change at field covers path (the same field or an
// enclosing one).
func covers(field, path []string) bool {
	if len(field) == 0 || len(field) > len(path) {
		return false
	}
	for i := range field {
		if field[i] != path[i] {
			return false
		}
	}
	return true
}

func lookup(v any, path []string) (any, bool) {
	for _, seg := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// normalizeJSON gives a plain value the shape a JSON round trip gives it, to
// compare with values read back from the rendered tree.
func normalizeJSON(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}
