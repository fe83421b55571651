package webhook

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/laiki-platform/laiki/engine/kube"
)

// jsonPatch writes the mutating webhook's JSON patch (RFC 6902) straight
// from what it changes (the owner's annotation, the spec the
// pre-processors gave), instead of writing the whole mutated object out and
// having jsonpatch.CreatePatch read it and the request's object back to
// compare them: that was two decodings and an encoding of the object per
// request. The patched object is the same (TestPatchAsCreatePatch); a list
// that changed is replaced whole rather than item by item.
type jsonPatch struct {
	b   []byte
	err error
}

// op adds an operation; value is written for add and replace.
func (p *jsonPatch) op(op, path string, value any) {
	if p.b == nil {
		p.b = append(p.b, '[')
	} else {
		p.b = append(p.b, ',')
	}
	p.b = append(p.b, `{"op":"`...)
	p.b = append(p.b, op...)
	p.b = append(p.b, `","path":`...)
	p.b = appendJSON(p.b, path, &p.err)
	if op != "remove" {
		p.b = append(p.b, `,"value":`...)
		p.b = appendJSON(p.b, value, &p.err)
	}
	p.b = append(p.b, '}')
}

// bytes is the patch; nil when it changes nothing.
func (p *jsonPatch) bytes() ([]byte, error) {
	if p.err != nil || p.b == nil {
		return nil, p.err
	}
	return append(p.b, ']'), nil
}

func appendJSON(b []byte, v any, err *error) []byte {
	out, e := json.Marshal(v)
	if e != nil && *err == nil {
		*err = e
	}
	return append(b, out...)
}

// pointer escapes a key for a JSON pointer (RFC 6901).
func pointer(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// ownerOps is what setOwner changes in obj (before it runs), as patch
// operations.
func ownerOps(p *jsonPatch, obj map[string]any, name string) {
	ann := map[string]any{kube.AnnotationSource: name}
	rawMeta, hasMeta := obj["metadata"]
	meta, isMap := rawMeta.(map[string]any)
	switch {
	case !hasMeta:
		p.op("add", "/metadata", map[string]any{"annotations": ann})
		return
	case !isMap:
		p.op("replace", "/metadata", map[string]any{"annotations": ann})
		return
	}
	rawAnn, hasAnn := meta["annotations"]
	current, isMap := rawAnn.(map[string]any)
	switch {
	case !hasAnn:
		p.op("add", "/metadata/annotations", ann)
		return
	case !isMap:
		p.op("replace", "/metadata/annotations", ann)
		return
	}
	path := "/metadata/annotations/" + pointer(kube.AnnotationSource)
	switch old, ok := current[kube.AnnotationSource]; {
	case !ok:
		p.op("add", path, name)
	case old != name:
		p.op("replace", path, name)
	}
}

// diffOps adds the operations that make from (at path) into to; both are
// JSON values as encoding/json decodes them. Maps are compared key by key,
// anything else replaced when it differs.
func diffOps(p *jsonPatch, path string, from, to any) {
	fm, ok1 := from.(map[string]any)
	tm, ok2 := to.(map[string]any)
	if !ok1 || !ok2 {
		if !reflect.DeepEqual(from, to) {
			p.op("replace", path, to)
		}
		return
	}
	keys := make([]string, 0, len(fm)+len(tm))
	for k := range fm {
		keys = append(keys, k)
	}
	for k := range tm {
		if _, ok := fm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, inFrom := fm[k]
		t, inTo := tm[k]
		switch {
		case !inTo:
			p.op("remove", path+"/"+pointer(k), nil)
		case !inFrom:
			p.op("add", path+"/"+pointer(k), t)
		default:
			diffOps(p, path+"/"+pointer(k), f, t)
		}
	}
}

// jsonValue is v as encoding/json reads it back (numbers float64), so that
// it compares with the request's object as jsonpatch compared them.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}
