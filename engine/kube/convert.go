package kube

import (
	"bytes"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// Annotations that keep a Laiki name that Name had to change, so that the
// object converts back to the file it came from.
const (
	AnnotationName      = "laiki.io/name"
	AnnotationNamespace = "laiki.io/namespace"
	// AnnotationSource names the source that owns an object made with
	// kubectl: the admission webhook sets it to the creator's source and
	// keeps it on every update, and the reconcile loop judges the object
	// as that source's.
	AnnotationSource = "laiki.io/source"
)

// PreProcessorKind is the kind of every pre-processor object.
const PreProcessorKind = "PreProcessor"

// KindOf returns the object kind of a document.
func KindOf(d *document.Document) (string, error) {
	switch d.Kind {
	case document.Target:
		if t, ok := types.Target(d.Type); ok {
			return t.Kind, nil
		}
	case document.Resource:
		if r, ok := types.Resource(d.Type); ok {
			return r.Kind, nil
		}
	case document.PreProcessor:
		return PreProcessorKind, nil
	}
	return "", fmt.Errorf("%s:%d: unknown %s type %s", d.File, d.Line, d.Kind, d.Type)
}

// ToObject gives the object form of a file-form document:
//
//	target:        kind per target type; metadata.name = Name(name),
//	               metadata.namespace = Name(namespace); spec = laiki-spec
//	resource:      kind per resource type; metadata.name = Name(identity),
//	               metadata.namespace = Name(target-namespace);
//	               spec = laiki-spec + targetName
//	pre-processor: kind PreProcessor; metadata.name = Name(name),
//	               metadata.namespace = Name(target-namespace);
//	               spec = {preProcessorName, targetName, parameters: laiki-spec}
//
// Names that Name changed are kept in the laiki.io/name and
// laiki.io/namespace annotations. Values the object's schema types more
// strictly than a file (a CPU of 0.25, an environment value of true) become
// strings.
func ToObject(d *document.Document) (map[string]any, error) {
	if d.Broken {
		return nil, fmt.Errorf("%s:%d: the document is in error; fix it first", d.File, d.Line)
	}
	kind, err := KindOf(d)
	if err != nil {
		return nil, err
	}
	name, namespace := d.Name, d.Namespace
	spec := map[string]any{}
	if m, ok := d.Spec.(map[string]any); ok {
		spec = m
	}
	switch d.Kind {
	case document.Target:
		t, _ := types.Target(d.Type)
		spec = objectValue(t.Schema.Field, spec).(map[string]any)
	case document.Resource:
		r, _ := types.Resource(d.Type)
		id, _ := spec[r.IdentityKey].(string)
		if id == "" {
			return nil, fmt.Errorf("%s:%d: a %s needs %s to be named as an object", d.File, d.Line, d.Type, r.IdentityKey)
		}
		name, namespace = id, d.TargetNamespace
		spec = objectValue(r.Schema.Field, spec).(map[string]any)
		spec["targetName"] = d.TargetName
	case document.PreProcessor:
		pp := map[string]any{"preProcessorName": d.Type}
		if d.TargetName != "" {
			pp["targetName"] = d.TargetName
		}
		if d.Spec != nil {
			pp["parameters"] = d.Spec
		}
		spec = pp
	}
	meta := map[string]any{"name": Name(name), "namespace": Name(namespace)}
	annotations := map[string]any{}
	if Mapped(name) {
		annotations[AnnotationName] = name
	}
	if Mapped(namespace) {
		annotations[AnnotationNamespace] = namespace
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	return map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   meta,
		"spec":       spec,
	}, nil
}

// objectValue makes a spec value fit the object's schema: quantities that
// are not whole numbers and scalar map values become strings.
func objectValue(f schema.Field, v any) any {
	switch f.Type {
	case schema.Quantity:
		if x, ok := v.(float64); ok {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
	case schema.StringMap:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				switch x := e.(type) {
				case bool:
					out[k] = strconv.FormatBool(x)
				case int64:
					out[k] = strconv.FormatInt(x, 10)
				case float64:
					out[k] = strconv.FormatFloat(x, 'f', -1, 64)
				default:
					out[k] = e
				}
			}
			return out
		}
	case schema.Object:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				if sub, known := f.Fields[k]; known {
					out[k] = objectValue(sub, e)
				} else {
					out[k] = e
				}
			}
			return out
		}
	}
	return v
}

// FromObject gives the file form (YAML) of a Laiki object.
func FromObject(obj map[string]any) ([]byte, error) {
	doc, err := ObjectNode(obj)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// ObjectNode is FromObject's document as a YAML tree, for reading it as a
// document without writing it out (document.ParseNode).
func ObjectNode(obj map[string]any) (*yaml.Node, error) {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	annotations, _ := meta["annotations"].(map[string]any)
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if n, ok := annotations[AnnotationName].(string); ok && n != "" {
		name = n
	}
	if n, ok := annotations[AnnotationNamespace].(string); ok && n != "" {
		namespace = n
	}
	if namespace == "" {
		return nil, fmt.Errorf("%s %s: a Laiki object is namespaced; it has no namespace", kind, name)
	}
	var metadata, laikiSpec *yaml.Node
	body := copyMap(spec)
	switch {
	case kind == PreProcessorKind:
		ppName, _ := body["preProcessorName"].(string)
		metadata = pairs(document.MetaPreProcessorName, ppName, document.MetaName, name, document.MetaTargetNamespace, namespace)
		if tn, _ := body["targetName"].(string); tn != "" {
			metadata.Content = append(metadata.Content, str(document.MetaTargetName), str(tn))
		}
		laikiSpec = toNode(body["parameters"])
	case targetKinds()[kind] != "":
		metadata = pairs(document.MetaTargetType, targetKinds()[kind], document.MetaName, name, document.MetaNamespace, namespace)
		laikiSpec = toNode(body)
	case resourceKinds()[kind] != "":
		target, _ := body["targetName"].(string)
		if target == "" {
			return nil, fmt.Errorf("%s %s/%s: spec.targetName is required", kind, namespace, name)
		}
		delete(body, "targetName")
		metadata = pairs(document.MetaResourceType, resourceKinds()[kind], document.MetaTargetName, target, document.MetaTargetNamespace, namespace)
		laikiSpec = toNode(body)
	default:
		return nil, fmt.Errorf("%s is not a Laiki kind", kind)
	}
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(document.KeyMetadata), metadata, str(document.KeySpec), laikiSpec}}, nil
}

func targetKinds() map[string]string {
	out := map[string]string{}
	for _, n := range types.TargetNames() {
		t, _ := types.Target(n)
		out[t.Kind] = n
	}
	return out
}

func resourceKinds() map[string]string {
	out := map[string]string{}
	for _, n := range types.ResourceNames() {
		r, _ := types.Resource(n)
		out[r.Kind] = n
	}
	return out
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func pairs(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i]), str(kv[i+1]))
	}
	return m
}

// toNode encodes a value; map keys come out sorted, so the same object
// always gives the same file.
func toNode(v any) *yaml.Node {
	if v == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return str(fmt.Sprint(v))
	}
	return &n
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
