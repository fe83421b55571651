package document

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// positions is where every key and list item of a document is written:
// what PosOf and RenameSpecKey read, in a fraction of the memory of the
// yaml.v3 tree it is made from (a yaml.Node is some 150 bytes, with
// comments, tags and styles that no finding needs). A run keeps every
// document until the end, and with 10,000 apps the trees were half of what
// a run held.
//
// Each mapping or list of the tree is a node, its keys or items a run of
// kids. A mapping or list written once and referred to by aliases is one
// node, as it is one in the tree: the index is never larger than the text.
type positions struct {
	nodes []posNode // nodes[0]: the document's top mapping
	kids  []posKid
}

type posNode struct {
	first, n int32 // kids[first:first+n]
	seq      bool  // a list: its kids are its items, in order
}

type posKid struct {
	key       string // a mapping's key as written ("" for a list item)
	line, col int32  // of the key, or of the item
	node      int32  // the value's node when a mapping or list, else -1
	merge     bool   // a merge key (<<)
}

// add indexes n (already dereferenced) and returns its node, or -1 for a
// node that has no keys or items. seen holds the nodes with an anchor
// (only those can be reached twice, through aliases), made when needed.
func (p *positions) add(n *yaml.Node, seen *map[*yaml.Node]int32) int32 {
	if n == nil || (n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode) {
		return -1
	}
	i := int32(len(p.nodes))
	if n.Anchor != "" {
		if j, ok := (*seen)[n]; ok {
			return j
		}
		if *seen == nil {
			*seen = map[*yaml.Node]int32{}
		}
		(*seen)[n] = i
	}
	first := int32(len(p.kids))
	if n.Kind == yaml.SequenceNode {
		p.nodes = append(p.nodes, posNode{first: first, n: int32(len(n.Content)), seq: true})
		for _, item := range n.Content {
			p.kids = append(p.kids, posKid{line: int32(item.Line), col: int32(item.Column), node: -1})
		}
		for j, item := range n.Content {
			child := p.add(deref(item), seen)
			p.kids[first+int32(j)].node = child
		}
		return i
	}
	pairs := len(n.Content) / 2
	p.nodes = append(p.nodes, posNode{first: first, n: int32(pairs)})
	for j := 0; j < pairs; j++ {
		k := n.Content[2*j]
		p.kids = append(p.kids, posKid{key: k.Value, line: int32(k.Line), col: int32(k.Column), node: -1, merge: k.Tag == "!!merge"})
	}
	for j := 0; j < pairs; j++ {
		child := p.add(deref(n.Content[2*j+1]), seen)
		p.kids[first+int32(j)].node = child
	}
	return i
}

// child finds a key (the first written) of a mapping node, or an item of a
// list node by its index.
func (p *positions) child(node int32, seg string) (posKid, bool) {
	if node < 0 || int(node) >= len(p.nodes) {
		return posKid{}, false
	}
	nd := p.nodes[node]
	kids := p.kids[nd.first : nd.first+nd.n]
	if nd.seq {
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(kids) {
			return kids[i], true
		}
		return posKid{}, false
	}
	for _, k := range kids {
		if k.key == seg {
			return k, true
		}
	}
	return posKid{}, false
}

// mapping is the node of the mapping at path (each step the last key of
// that name, as RenameSpecKey has always read it), or -1.
func (p *positions) mapping(from int32, path []string) int32 {
	n := from
	for _, seg := range path {
		if n < 0 || p.nodes[n].seq {
			return -1
		}
		nd := p.nodes[n]
		next := int32(-1)
		for _, k := range p.kids[nd.first : nd.first+nd.n] {
			if k.key == seg {
				next = k.node
			}
		}
		n = next
	}
	if n < 0 || p.nodes[n].seq {
		return -1
	}
	return n
}
