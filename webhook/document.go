package webhook

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/types"
)

// objectDocument is cluster.ObjectDocument without its YAML round trip,
// which was most of its cost (kube.ObjectNode has yaml.v3 encode the spec,
// which writes it out as YAML text and parses it back, at a fixed cost of
// a few KB of buffers even for an empty map): the tree is built straight
// from the JSON values, with the tags the round trip gives them (so a
// whole number below 1e6 is still an integer, 1e6 a float: yaml.v3 writes
// floats with %g), laiki-metadata as kube.ObjectNode makes it. The
// document is cluster.ObjectDocument's (TestObjectDocument compares them
// for every kind); its nodes carry no lines either. Every object the fast
// path is not sure of takes cluster.ObjectDocument, which also says what is
// wrong with one that is not a Laiki document (no namespace, no
// targetName, another kind): values JSON does not give, nesting or sizes
// near the parser's limits, and what the round trip reads otherwise than
// written (a << key is a merge key; a text with a line break, a literal
// block, loses a leading one).
func objectDocument(obj map[string]any, src document.SourceRef) (*document.Document, []finding.Finding, error) {
	spec, isMap := obj["spec"].(map[string]any)
	if !isMap {
		return slowDocument(obj, src)
	}
	meta, class := objectMetadata(obj, spec)
	b := nodeBuilder{budget: maxFastNodes}
	var laikiSpec *yaml.Node
	// laiki-spec is a resource's spec without its target's name, a
	// target's spec, a pre-processor's parameters.
	switch class {
	case document.Resource:
		laikiSpec = b.mapping(spec, "targetName", true, 1)
	case document.Target:
		laikiSpec = b.mapping(spec, "", false, 1)
	case document.PreProcessor:
		laikiSpec = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
		if p, ok := spec["parameters"]; ok {
			laikiSpec = b.node(p, 1)
		}
	default:
		b.bail = true
	}
	if b.bail {
		return slowDocument(obj, src)
	}
	top := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(document.KeyMetadata), meta, str(document.KeySpec), laikiSpec}}
	u := unstructured.Unstructured{Object: obj}
	file := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	parsed := document.ParseNode(src, file, top, document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		return nil, parsed.Findings, fmt.Errorf("%s: not one Laiki document", file)
	}
	d := parsed.Documents[0]
	return d, append(parsed.Findings, parsed.ByDocument[d]...), nil
}

// objectMetadata is laiki-metadata as kube.ObjectNode makes it for an
// object that is a Laiki document, and which kind of document; no kind
// for any other (kube.ObjectNode says what is wrong with it).
func objectMetadata(obj, spec map[string]any) (*yaml.Node, document.Kind) {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if n, ok := annotations[kube.AnnotationName].(string); ok && n != "" {
		name = n
	}
	if n, ok := annotations[kube.AnnotationNamespace].(string); ok && n != "" {
		namespace = n
	}
	if namespace == "" {
		return nil, ""
	}
	if kind == kube.PreProcessorKind {
		ppName, _ := spec["preProcessorName"].(string)
		m := pairs(document.MetaPreProcessorName, ppName, document.MetaName, name, document.MetaTargetNamespace, namespace)
		if tn, _ := spec["targetName"].(string); tn != "" {
			m.Content = append(m.Content, str(document.MetaTargetName), str(tn))
		}
		return m, document.PreProcessor
	}
	for _, n := range types.TargetNames() {
		if t, _ := types.Target(n); t != nil && t.Kind == kind {
			return pairs(document.MetaTargetType, n, document.MetaName, name, document.MetaNamespace, namespace), document.Target
		}
	}
	for _, n := range types.ResourceNames() {
		if r, _ := types.Resource(n); r != nil && r.Kind == kind {
			target, _ := spec["targetName"].(string)
			if target == "" {
				return nil, ""
			}
			return pairs(document.MetaResourceType, n, document.MetaTargetName, target, document.MetaTargetNamespace, namespace), document.Resource
		}
	}
	return nil, ""
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func pairs(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Content: make([]*yaml.Node, 0, len(kv))}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i]), str(kv[i+1]))
	}
	return m
}

// slowDocument reads the objects the fast path leaves (a variable for tests
// to count them).
var slowDocument = cluster.ObjectDocument

// Limits of the fast path, below document.DefaultLimits (depth 64, 200,000
// values), so that an object that comes near them is read by
// cluster.ObjectDocument and refused in its words.
const (
	maxFastDepth = 48
	maxFastNodes = 100_000
)

// nodeBuilder makes the YAML trees of JSON values.
type nodeBuilder struct {
	budget int
	bail   bool // a value the fast path is not sure of
}

// node is the tree yaml.v3 gives a value when it writes it out and reads
// it back: the same kinds, tags and texts.
func (b *nodeBuilder) node(v any, depth int) *yaml.Node {
	if b.budget--; b.budget < 0 || depth > maxFastDepth {
		b.bail = true
		return nil
	}
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case string:
		if strings.Contains(x, "\n") {
			// yaml.v3 writes it as a literal block, which does not always
			// read back as written ("\na" reads "a").
			b.bail = true
			return nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	case float64:
		// As yaml.v3 writes a float, and as its reader resolves the text
		// (whole numbers up to 1e6 are !!int, 1e+06 is !!float).
		n := &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(x, 'g', -1, 64)}
		n.Tag = n.ShortTag()
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, len(x))}
		for _, e := range x {
			n.Content = append(n.Content, b.node(e, depth+1))
		}
		return n
	case map[string]any:
		return b.mapping(x, "", false, depth)
	}
	b.bail = true
	return nil
}

// mapping is node for a map, leaving out the key skip if skipping.
func (b *nodeBuilder) mapping(m map[string]any, skip string, skipping bool, depth int) *yaml.Node {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "<<" || strings.Contains(k, "\n") {
			// yaml.v3 writes << plain, and reads it back as a merge key;
			// a key with a line break may come back another key.
			b.bail = true
			return nil
		}
		if !skipping || k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(keys))}
	for _, k := range keys {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, b.node(m[k], depth+1))
	}
	return n
}
