package document

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/finding"
)

// treePosOf is PosOf as it read the yaml.v3 tree, before the index: the
// reference the index must agree with.
func treePosOf(d *Document, root *yaml.Node, path ...string) finding.Location {
	loc := d.Location()
	if len(path) == 1 && strings.Contains(path[0], ".") {
		path = strings.Split(path[0], ".")
	}
	n := root
	for _, seg := range path {
		n = deref(n)
		if n == nil {
			break
		}
		var key, next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					key, next = n.Content[i], n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
				key, next = n.Content[i], n.Content[i]
			}
		}
		if key == nil {
			break
		}
		loc.Line, loc.Column = key.Line, key.Column
		n = next
	}
	return loc
}

// tops decodes the top mappings of a file's Laiki documents, as Parse does.
func tops(data []byte) []*yaml.Node {
	var out []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		if err := dec.Decode(&root); err != nil {
			if !errors.Is(err, io.EOF) {
				return out
			}
			return out
		}
		top := deref(&root)
		if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
			top = deref(top.Content[0])
		}
		if top != nil && top.Kind == yaml.MappingNode && hasKey(top, KeyMetadata, KeySpec) {
			out = append(out, top)
		}
	}
}

// paths lists the paths of a tree (aliases followed a few levels), and
// near misses: a key not there, an index out of range, one level too deep.
func paths(n *yaml.Node, prefix []string, depth int, out *[][]string) {
	n = deref(n)
	if n == nil || depth > 6 {
		return
	}
	*out = append(*out, append(append([]string(nil), prefix...), "missing"), append(append([]string(nil), prefix...), "7"))
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := append(append([]string(nil), prefix...), n.Content[i].Value)
			*out = append(*out, p)
			paths(n.Content[i+1], p, depth+1, out)
		}
	case yaml.SequenceNode:
		for i := range n.Content {
			p := append(append([]string(nil), prefix...), strconv.Itoa(i))
			*out = append(*out, p)
			paths(n.Content[i], p, depth+1, out)
		}
	}
}

// specOf is the laiki-spec value of a top mapping (the first written).
func specOf(top *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == KeySpec {
			return top.Content[i+1]
		}
	}
	return nil
}

// sameAsTree checks every position of a file's documents against the tree,
// and renames (each key of each mapping of the spec, to a new name) too.
func sameAsTree(t *testing.T, data []byte) int {
	t.Helper()
	res := Parse(src, "f.yaml", data, DefaultLimits)
	trees := tops(data)
	if len(trees) != len(res.Documents) {
		return 0 // a syntax error after some documents: Parse keeps those, tops stops
	}
	checked := 0
	for i, d := range res.Documents {
		top := trees[i]
		var ps [][]string
		paths(top, nil, 0, &ps)
		ps = append(ps, nil, []string{"laiki-spec.a.b"}, []string{""})
		check := func(when string) {
			for _, p := range ps {
				if got, want := d.PosOf(p...), treePosOf(d, top, p...); got != want {
					t.Fatalf("%s: PosOf(%q) = %v, the tree says %v\n%s", when, p, got, want, data)
				}
				checked++
			}
			if d.Kind != Target {
				if got, want := d.SpecKeys(), treeKeys(specOf(top)); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: SpecKeys = %q, the tree says %q\n%s", when, got, want, data)
				}
			}
		}
		check("as read")
		spec := specOf(top)
		var specPaths [][]string
		paths(spec, nil, 0, &specPaths)
		for _, p := range append(specPaths, nil) {
			if len(p) == 0 {
				for _, k := range treeKeys(spec) {
					d.RenameSpecKey(nil, k, k+"-renamed")
					renameInTree(spec, nil, k, k+"-renamed")
				}
				continue
			}
			last := p[len(p)-1]
			d.RenameSpecKey(p[:len(p)-1], last, "x"+last)
			renameInTree(spec, p[:len(p)-1], last, "x"+last)
		}
		ps = ps[:0]
		paths(top, nil, 0, &ps)
		check("renamed")
	}
	return checked
}

func treeKeys(spec *yaml.Node) []string {
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(spec.Content); i += 2 {
		out = append(out, spec.Content[i].Value)
	}
	return out
}

// Positions come from a compact index, not the tree: every key and item
// of every example and test file is where the tree says, before and after
// keys are renamed.
func TestPositionsAreTheTrees(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../examples", "testdata", "../../test"} {
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return nil
		})
	}
	cases := map[string]string{
		"aliases":        "laiki-metadata: &m\n  resource-type: A\n  target-name: t\n  target-namespace: n\nlaiki-spec:\n  a: &x {b: [1, {c: 2}], d: e}\n  f: *x\n  g: [*x, *x]\n  <<: {h: 1}\n  i:\n    <<: [*x, {j: 2}]\n    k: 3\n",
		"spec alias":     "x: &s {a: 1, b: {c: 2}}\nlaiki-metadata:\n  resource-type: A\n  target-name: t\n  target-namespace: n\nlaiki-spec: *s\n",
		"target":         "laiki-metadata:\n  target-type: ShinyProxy\n  name: sp\n  namespace: ns\nlaiki-spec:\n  proxy: {title: x, specs: [{id: a}]}\n",
		"flow and lists": "{laiki-metadata: {resource-type: A, target-name: t, target-namespace: n}, laiki-spec: [a, [b, c], {d: e}]}\n",
		"scalar spec":    "laiki-metadata:\n  resource-type: A\n  target-name: t\n  target-namespace: n\nlaiki-spec: 3\n",
		"duplicates":     "laiki-metadata:\n  resource-type: A\n  target-name: t\n  target-namespace: n\nlaiki-spec:\n  a: {b: 1, b: 2}\n  a: 2\n",
	}
	checked := 0
	for name, text := range cases {
		t.Run(name, func(t *testing.T) { checked += sameAsTree(t, []byte(text)) })
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked += sameAsTree(t, data)
	}
	t.Logf("%d files, %d positions", len(files), checked)
	if len(files) < 10 || checked < 1000 {
		t.Errorf("%d files, %d positions checked", len(files), checked)
	}
}

// FuzzPositions: whatever the YAML, the index says what the tree says.
func FuzzPositions(f *testing.F) {
	f.Add("laiki-metadata: &m\n  resource-type: A\nlaiki-spec:\n  a: &x {b: [1, {c: 2}]}\n  f: *x\n  <<: {h: 1}\n")
	f.Add("laiki-metadata: {target-type: T, name: n, namespace: s}\nlaiki-spec: {a: [x, y]}\n---\nlaiki-metadata: {}\nlaiki-spec: *a\n")
	f.Add("laiki-metadata:\n  resource-type: A\nlaiki-spec:\n  ? [a, b]\n  : c\n  1: 2\n  '': e\n")
	f.Fuzz(func(t *testing.T, text string) {
		sameAsTree(t, []byte(text))
	})
}
