package schema

import (
	"fmt"
	"reflect"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/laiki-platform/laiki/engine/finding"
)

var (
	quantityType = reflect.TypeOf(resource.Quantity{})
	jsonType     = reflect.TypeOf(apiextensionsv1.JSON{})
	intOrString  = reflect.TypeOf(intstr.IntOrString{})
)

// FromGoType reads a spec schema from the Go type of a Laiki kind (package
// engine/api/v1alpha1), so that the CRDs, the JSON schemas and the engine's
// checks come from one definition. JSON names give the keys; Go types give
// the value types; the struct tag `laiki` adds what Go cannot say:
// required, string-or-list, map, list, strict (unknown keys of that object
// are errors), object-only (a field of the object form, not of laiki-spec),
// expression (a Spring expression, "#{...}", is a value of it too),
// quantity (a Kubernetes quantity, whatever the Go type), boolean (true or
// false, whatever the Go type), dns-label (a name Kubernetes takes for a
// namespace).
// unknown says how unknown keys at the top are reported ("" accepts them).
func FromGoType(what string, t reflect.Type, unknown finding.Severity) *Schema {
	f := fieldOf(t, nil)
	f.Unknown = unknown
	return &Schema{What: what, Field: f}
}

func fieldOf(t reflect.Type, tags map[string]bool) Field {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	f := Field{Required: tags["required"], Expression: tags["expression"]}
	if tags["dns-label"] {
		f.Check = dnsLabel
	}
	switch {
	case tags["string-or-list"]:
		f.Type = StringOrList
	case tags["map"]:
		f.Type = Map
	case tags["list"]:
		f.Type = List
	case tags["boolean"]:
		// true or false, held as any JSON value in the object form when it
		// may be an expression.
		f.Type = Bool
	case tags["quantity"]:
		// A Kubernetes quantity, held as int-or-string in the object form
		// when it may be an expression: the API server's quantity pattern
		// would refuse "#{...}".
		f.Type = Quantity
	case t == quantityType:
		f.Type = Quantity
	case t == intOrString:
		f.Type = Int // the string half is for expressions
		f.Expression = true
	case t == jsonType:
		f.Type = Any
	case t.Kind() == reflect.String:
		f.Type = String
	case t.Kind() == reflect.Bool:
		f.Type = Bool
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int32, t.Kind() == reflect.Int64:
		f.Type = Int
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.Type = StringList
	case t.Kind() == reflect.Slice:
		f.Type = List
	case t.Kind() == reflect.Map:
		f.Type = StringMap
	case t.Kind() == reflect.Struct:
		f.Type = Object
		f.Fields = map[string]Field{}
		if tags["strict"] {
			f.Unknown = finding.Error
		}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" || name == "-" || !sf.IsExported() {
				continue
			}
			sub := map[string]bool{}
			for _, tag := range strings.Split(sf.Tag.Get("laiki"), ",") {
				if tag != "" {
					sub[tag] = true
				}
			}
			if sub["object-only"] {
				continue
			}
			f.Fields[name] = fieldOf(sf.Type, sub)
		}
	}
	return f
}

// WithCheck adds a value check to a field read from a Go type.
func WithCheck(f Field, check func(any) string) Field {
	f.Check = check
	return f
}

// dnsLabel is the check of a value that becomes a Kubernetes namespace
// name: a DNS-1123 label, as the API server has it.
func dnsLabel(v any) string {
	s, _ := v.(string)
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return fmt.Sprintf("%q is not a Kubernetes namespace name: %s", s, strings.Join(errs, "; "))
	}
	return ""
}
