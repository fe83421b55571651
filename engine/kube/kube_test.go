package kube_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
	// The types register with their workflows.
	_ "github.com/laiki-platform/laiki/engine/workflow"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"apps":                  "apps",
		"ShinyProxy":            "shinyproxy-ae8ef13dc8",
		"a_b":                   "a-b-" + kube.Name("a_b")[4:],
		strings.Repeat("a", 70): strings.Repeat("a", 52) + "-" + kube.Name(strings.Repeat("a", 70))[53:],
	} {
		if got := kube.Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]string{}
	for _, n := range []string{"ShinyProxy", "shinyproxy", "SHINYPROXY", "shiny_proxy", "shiny-proxy", kube.Name("ShinyProxy"), "x-0123456789"} {
		k := kube.Name(n)
		if prev, dup := seen[k]; dup {
			t.Errorf("%q and %q both map to %q", prev, n, k)
		}
		seen[k] = n
		if len(validation.IsDNS1123Label(k)) > 0 {
			t.Errorf("%q maps to %q, not a DNS label", n, k)
		}
	}
}

// Every example converts to an object and back to the same document: the
// bundled ones, and the design document's, whose names are mapped.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*.yaml")
	design, _ := filepath.Glob("../../test/fixtures/design/*/*.yaml")
	files = append(files, design...)
	if len(files) < 14 {
		t.Fatalf("examples not found: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := document.SourceRef{Name: "s", Role: "platform"}
		for _, d := range document.Parse(src, f, data, document.DefaultLimits).Documents {
			obj, err := kube.ToObject(d)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			text, err := kube.FromObject(obj)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			back := document.Parse(src, f, text, document.DefaultLimits).Documents
			if len(back) != 1 {
				t.Fatalf("%s: back to %d documents:\n%s", f, len(back), text)
			}
			b := back[0]
			if b.Kind != d.Kind || b.Type != d.Type || b.Name != d.Name || b.Namespace != d.Namespace || b.TargetName != d.TargetName ||
				b.TargetNamespace != d.TargetNamespace || !reflect.DeepEqual(normal(b.Spec), normal(d.Spec)) {
				t.Errorf("%s: round trip changed the document:\n%s", f, text)
			}
		}
	}
}

// normal compares specs the way the object form keeps them: a quantity of
// 0.25 comes back as the string "0.25".
func normal(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{} // an empty spec comes back as {}
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normal(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normal(e)
		}
		return out
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return v
}
