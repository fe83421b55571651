package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
)

// Desired state is kept as YAML trees rather than Go maps so that the
// platform's configuration keeps its key order and spelling from input to
// output, in YAML and in JSON alike.

// Ordered wraps a YAML tree so that it marshals to JSON in its own key order.
type Ordered struct{ *yaml.Node }

// MarshalJSON writes the tree as JSON, keys in the order of the tree.
func (o Ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, o.Node); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// MarshalYAML gives the tree itself to the YAML encoder.
func (o Ordered) MarshalYAML() (any, error) { return o.Node, nil }

func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			n = nil
		}
	}
	if n == nil {
		b.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch v.(type) {
		case int, int64, uint64, float64, bool, nil, string:
		default:
			v = n.Value // timestamps and custom tags keep their text
		}
		out, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(out)
	}
	return nil
}

// mapping builds a mapping node from key, value pairs; values go through node.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		set(m, kv[i].(string), node(kv[i+1]))
	}
	return m
}

// sortedMapping is a mapping of m by its keys in order, each value made by
// value: the output does not depend on map order.
func sortedMapping[V any](m map[string]V, value func(V) *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(m))}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n.Content = append(n.Content, str(k), value(m[k]))
	}
	return n
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// node turns a plain value (from a spec) into a tree; maps get sorted keys so
// that the output does not depend on map order.
func node(v any) *yaml.Node {
	switch x := v.(type) {
	case *yaml.Node:
		return x
	case Ordered:
		return x.Node
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		return str(x)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			s.Content = append(s.Content, node(e))
		}
		return s
	case []string:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range x {
			s.Content = append(s.Content, str(e))
		}
		return s
	case map[string]any:
		return sortedMapping(x, node)
	case []*yaml.Node:
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: x}
	}
	return str(fmt.Sprint(v))
}

// get returns the value of a key of a mapping, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces a key's value in place, or appends the key at the end.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, str(key), v)
}

// remove deletes a key of a mapping and returns its value.
func remove(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// clone copies a tree deeply, resolving aliases and merge keys as the
// engine read them (document.Pairs: what the policies judged is what is
// rendered, and the output is read by tools that may not know merge keys),
// and drops positions and comments so that rendered output does not depend
// on how input was laid out.
func clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return clone(n.Content[0])
	}
	c := &yaml.Node{Kind: n.Kind, Tag: n.ShortTag(), Value: n.Value, Style: n.Style &^ (yaml.FlowStyle)}
	if n.Kind == yaml.MappingNode {
		// The engine has read this tree already, so it has no error here.
		pairs, _ := document.Pairs(n)
		for _, p := range pairs {
			c.Content = append(c.Content, clone(p.Key), clone(p.Value))
		}
		return c
	}
	for _, e := range n.Content {
		c.Content = append(c.Content, clone(e))
	}
	return c
}

// presentNode renders a desired state as the mapping of its JSON keys, in
// the order of its fields, without the values that say nothing ("", false,
// an empty list or map): its keys are spelled once, in its tags, for the
// render and for the provisioner that reads it back.
func presentNode(v reflect.Value) *yaml.Node {
	n := mapping()
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		f := v.Field(i)
		if key == "" || key == "-" || f.IsZero() || ((f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0) {
			continue
		}
		var value *yaml.Node
		switch f.Kind() {
		case reflect.Struct:
			value = presentNode(f)
		case reflect.Map:
			value = sortedMapping(f.Interface().(map[string]string), str)
		default:
			value = node(f.Interface())
		}
		n.Content = append(n.Content, str(key), value)
	}
	return n
}
