package document

import (
	"math"
	"reflect"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// decoded is a scalar as yaml.v3's Decode reads it: what scalar gave before
// it read the plain forms itself.
func decoded(n *yaml.Node) (any, bool) {
	switch n.ShortTag() {
	case "!!bool":
		var b bool
		return b, n.Decode(&b) == nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return f, err == nil
	case "!!float":
		var f float64
		return f, n.Decode(&f) == nil
	}
	v, err := scalar(n)
	return v, err == nil
}

// same compares values, floats by their bits (NaN is NaN, -0 is not 0).
func same(a, b any) bool {
	if x, ok := a.(float64); ok {
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	}
	return reflect.DeepEqual(a, b)
}

func sameScalar(t *testing.T, text string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+text+"\n"), &doc); err != nil || len(doc.Content) == 0 || len(doc.Content[0].Content) < 2 {
		return
	}
	n := doc.Content[0].Content[1]
	if n.Kind != yaml.ScalarNode {
		return
	}
	want, ok := decoded(n)
	got, err := scalar(n)
	if ok != (err == nil) || (ok && !same(got, want)) {
		t.Fatalf("%q (%s): got %#v (%v), yaml.v3 decodes %#v (%v)", text, n.ShortTag(), got, err, want, ok)
	}
}

// Numbers and booleans written plainly are read as yaml.v3 decodes them.
func TestScalarsAsYAMLDecodes(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "012", "0x1F", "0o17", "0b101", "1_000", "+12", "123456789012345678", "1234567890123456789",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999", "0.5", "-0.5", "00.5", "1.", ".5", "1.5e3",
		"1e3", "3.14159265358979323846264338327950288", ".inf", "-.Inf", ".nan", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "on",
		"!!bool yes", "!!bool true", "!!int 12", "!!int 012", "!!float 12", "!!float 1.5", "!!int 1.5", "~", "null", "2001-12-14", "1:20"} {
		sameScalar(t, s)
	}
}

func FuzzScalars(f *testing.F) {
	for _, s := range []string{"12", "-0.25", "012", "1_0", "true", "!!float 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameScalar(t, s) })
}
