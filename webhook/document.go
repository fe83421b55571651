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
)

// objectDocument is cluster.ObjectDocument without its YAML round trip,
// which was most of its cost (kube.ObjectNode has yaml.v3 encode the spec,
// which writes it out as YAML text and parses it back): kube.ObjectNode
// still reads the object's kind and names, given the spec's names only
// (targetName, preProcessorName), and laiki-spec is then the tree of the
// spec's values, built straight from them with the tags the round trip
// gives them (so a whole number below 1e6 is still an integer, 1e6 a
// float: yaml.v3 writes floats with %g). The document is
// cluster.ObjectDocument's (TestObjectDocument compares them for every
// kind); its nodes carry no lines either. An object the fast path is not
// sure of takes cluster.ObjectDocument: values JSON does not give, nesting
// or sizes near the parser's limits, and what the round trip reads
// otherwise than written (a << key is a merge key; a text with a line
// break, a literal block, loses a leading one).
func objectDocument(obj map[string]any, src document.SourceRef) (*document.Document, []finding.Finding, error) {
	spec, isMap := obj["spec"].(map[string]any)
	if !isMap {
		return slowDocument(obj, src)
	}
	head := make(map[string]any, len(obj))
	for k, v := range obj {
		head[k] = v
	}
	names := map[string]any{}
	for _, k := range []string{"targetName", "preProcessorName"} {
		if v, ok := spec[k]; ok {
			names[k] = v
		}
	}
	head["spec"] = names
	top, err := kube.ObjectNode(head)
	if err != nil {
		return nil, nil, err
	}
	// laiki-spec is, by the kind of document ObjectNode made: a resource's
	// spec without its target's name, a target's spec, a pre-processor's
	// parameters.
	var meta, laikiSpec **yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch top.Content[i].Value {
		case document.KeyMetadata:
			meta = &top.Content[i+1]
		case document.KeySpec:
			laikiSpec = &top.Content[i+1]
		}
	}
	if meta == nil || laikiSpec == nil {
		return slowDocument(obj, src)
	}
	b := nodeBuilder{budget: maxFastNodes}
	switch {
	case hasKey(*meta, document.MetaResourceType):
		*laikiSpec = b.mapping(spec, "targetName", true, 1)
	case hasKey(*meta, document.MetaTargetType):
		*laikiSpec = b.mapping(spec, "", false, 1)
	case hasKey(*meta, document.MetaPreProcessorName):
		if p, ok := spec["parameters"]; ok {
			*laikiSpec = b.node(p, 1)
		}
	default:
		b.bail = true
	}
	if b.bail {
		return slowDocument(obj, src)
	}
	u := unstructured.Unstructured{Object: obj}
	file := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	parsed := document.ParseNode(src, file, top, document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		return nil, parsed.Findings, fmt.Errorf("%s: not one Laiki document", file)
	}
	d := parsed.Documents[0]
	return d, append(parsed.Findings, parsed.ByDocument[d]...), nil
}

// slowDocument reads the objects the fast path leaves (a variable for tests
// to count them).
var slowDocument = cluster.ObjectDocument

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

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
