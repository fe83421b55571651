package document

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits bound what one file may cost to read, so that a hostile file (deep
// nesting, an alias bomb) is refused quickly instead of exhausting memory.
type Limits struct {
	MaxFileBytes  int // size of one file
	MaxDocuments  int // YAML documents in one file
	MaxDepth      int // nesting of maps and lists
	MaxValueNodes int // nodes of one document after alias expansion
}

// DefaultLimits are far above any real app or platform file.
var DefaultLimits = Limits{
	MaxFileBytes:  1 << 20,
	MaxDocuments:  1000,
	MaxDepth:      64,
	MaxValueNodes: 200_000,
}

// NodeError is a problem at a node of a YAML tree.
type NodeError struct {
	Line, Column int
	Msg          string
}

func (e *NodeError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func nodeErr(n *yaml.Node, format string, args ...any) *NodeError {
	return &NodeError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// converter turns a yaml.Node into plain Go values (map[string]any, []any,
// string, bool, int64, float64, nil): the shape that Rego and JSON expect.
// It resolves aliases and merge keys, refuses duplicate keys, and counts
// nodes so that alias expansion cannot blow up.
type converter struct {
	limits Limits
	nodes  int
}

// Value converts a node with the default limits.
func Value(n *yaml.Node) (any, error) {
	c := converter{limits: DefaultLimits}
	return c.value(n, 0)
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	if n == nil {
		return nil, nil
	}
	c.nodes++
	if c.nodes > c.limits.MaxValueNodes {
		return nil, nodeErr(n, "document expands to more than %d values (alias expansion?)", c.limits.MaxValueNodes)
	}
	if depth > c.limits.MaxDepth {
		return nil, nodeErr(n, "nesting deeper than %d levels", c.limits.MaxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth)
	case yaml.AliasNode:
		return c.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.value(item, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		if err := c.mapping(n, out, depth); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, nodeErr(n, "unsupported YAML node")
}

// mapping fills out from a mapping node: its pairs as Pairs gives them.
func (c *converter) mapping(n *yaml.Node, out map[string]any, depth int) error {
	budget := c.limits.MaxValueNodes - c.nodes
	pairs, err := mergedPairs(n, &budget, nil)
	if err != nil {
		return err
	}
	c.nodes = c.limits.MaxValueNodes - budget
	for _, p := range pairs {
		key, err := keyString(p.Key)
		if err != nil {
			return err
		}
		val, err := c.value(p.Value, depth+1)
		if err != nil {
			return err
		}
		out[key] = val
	}
	return nil
}

// Pair is one key and its value of a mapping.
type Pair struct{ Key, Value *yaml.Node }

// Pairs gives the keys and values a mapping node means, merge keys (<<, of
// one mapping or a list of them) resolved as YAML specifies: a key written
// in the mapping itself wins over a merged one, and of the merged mappings
// the first that has a key gives it. Merged keys take the place of the
// merge key. A key written twice in the mapping is an error. This is the
// one reading of merge keys: the engine's values (what policies judge) and
// the workflows' trees (what is rendered) both come from it.
func Pairs(n *yaml.Node) ([]Pair, error) {
	budget := DefaultLimits.MaxValueNodes
	return mergedPairs(n, &budget, nil)
}

// mergedPairs is Pairs within a budget of pairs, so that merge keys of
// merge keys cannot blow up (each merge spends the pairs it brings), and
// refusing a mapping that merges itself (stack: the mappings being merged).
func mergedPairs(n *yaml.Node, budget *int, stack []*yaml.Node) ([]Pair, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	own := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMerge(k) {
			continue
		}
		key, err := keyString(k)
		if err != nil {
			return nil, err
		}
		if prev, dup := own[key]; dup {
			return nil, nodeErr(k, "key %q is already defined at line %d", key, prev.Line)
		}
		own[key] = k
	}
	out := make([]Pair, 0, len(n.Content)/2)
	taken := make(map[string]bool, len(own))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			key, _ := keyString(k)
			taken[key] = true
			out = append(out, Pair{k, v})
			continue
		}
		m := deref(v)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			src = deref(src)
			if src.Kind != yaml.MappingNode {
				return nil, nodeErr(src, "a merge key (<<) needs a mapping or a list of mappings")
			}
			for _, s := range append(stack, n) {
				if s == src {
					return nil, nodeErr(k, "a merge key (<<) brings in a mapping that holds it")
				}
			}
			if *budget -= len(src.Content) / 2; *budget < 0 {
				return nil, nodeErr(k, "merge keys (<<) expand to too many values (merges of merges?)")
			}
			merged, err := mergedPairs(src, budget, append(stack, n))
			if err != nil {
				return nil, err
			}
			for _, p := range merged {
				key, err := keyString(p.Key)
				if err != nil {
					return nil, err
				}
				if _, mine := own[key]; mine || taken[key] {
					continue
				}
				taken[key] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

func keyString(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", nodeErr(k, "a key must be a plain value, not a map or list")
	}
	return k.Value, nil
}

// scalar reads a scalar as yaml.v3 decodes it into a Go value. The plain
// forms that make most numbers and booleans are read here; yaml.v3's
// Decode (a decoder per value, the tag resolved again) reads the others:
// it was a fifth of parsing an app.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, nodeErr(n, "%v", err)
		}
		return b, nil
	case "!!int":
		if i, ok := plainInt(n.Value); ok {
			return i, nil
		}
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		// Too large for int64: keep it as a float rather than fail.
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return nil, nodeErr(n, "not a number: %q", n.Value)
		}
		return f, nil
	case "!!float":
		if f, ok := plainFloat(n.Value); ok {
			return f, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, nodeErr(n, "%v", err)
		}
		return f, nil
	case "!!str", "!!binary", "!!timestamp":
		return n.Value, nil
	}
	// Custom tags (!foo) keep their text: Laiki gives them no meaning.
	return n.Value, nil
}

// plainInt reads a decimal integer written plainly: an optional minus,
// digits, no leading zero (yaml.v3 reads 012 as octal), at most 18 digits
// (no overflow), no underscores. Anything else is left to yaml.v3.
func plainInt(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 18 || (digits[0] == '0' && digits != "0") {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

// plainFloat reads a decimal fraction written plainly: an optional minus,
// digits, a point, digits; no exponent or underscore. yaml.v3 reads it
// with strconv.ParseFloat too.
func plainFloat(s string) (float64, bool) {
	digits := strings.TrimPrefix(s, "-")
	point := strings.IndexByte(digits, '.')
	if point <= 0 || point == len(digits)-1 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if (digits[i] < '0' || digits[i] > '9') && i != point {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
