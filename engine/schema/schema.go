// Package schema checks a spec against what its type takes: the fields of
// a Go type (FromGoType, from engine/api), their value types and checks,
// unknown keys with the closest known one, and ShinyProxy's relaxed key
// spelling (Canonicalize). The types (engine/types) hold one schema each.
package schema

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/near"
)

// ValueType is the expected shape of a spec value.
type ValueType int

const (
	Any          ValueType = iota
	String                 // a string; numbers and booleans are refused so that "yes" or 0755 surprises show up
	Scalar                 // a string, number or boolean (environment values, say)
	Bool                   // true or false
	Int                    // a whole number
	Quantity               // a Kubernetes quantity: 0.25, 1, 500m, 256Mi
	StringList             // a list of strings
	StringOrList           // a string or a list of strings
	StringMap              // a map of string keys to scalar values
	Map                    // any map
	List                   // any list
	Object                 // a map with the fields of Field.Fields
)

func (t ValueType) String() string {
	return [...]string{"any value", "a string", "a string, number or boolean", "true or false", "a whole number",
		"a Kubernetes quantity (e.g. 0.5, 500m, 256Mi)", "a list of strings", "a string or a list of strings",
		"a map of names to values", "a map", "a list", "a map"}[t]
}

// Field describes one key of a spec.
type Field struct {
	Type     ValueType
	Required bool
	// Fields of an Object; Unknown says how its unknown keys are reported.
	Fields  map[string]Field
	Unknown finding.Severity
	// Check, when set, returns a message for a value of the right type that
	// is still wrong (a bad repository name, say).
	Check func(v any) string
	// Expression: the component evaluates the value as a Spring expression
	// (ShinyProxy's SpelField), so a string holding "#{" is a value of it
	// whatever its Type. Whether a team may write one is the baseline's
	// decision, not the schema's.
	Expression bool
	// Ignored, when set, says why the component does not read the key
	// (and what to write instead); the key is a warning.
	Ignored string
}

// Schema is the top-level Field of a spec, always an Object. What names the
// thing in messages ("ShinyProxy app").
type Schema struct {
	What string
	Field
	// Bound marks a spec its component binds with relaxed names (a
	// ShinyProxy app): its keys are read in their canonical spelling
	// (Canonicalize), and an unknown top-level key is an error for a team
	// unless the platform allows it (the engine decides, by source).
	Bound bool

	once  sync.Once
	canon map[string]map[string]string
}

// Problem is a schema finding at a path inside the spec.
type Problem struct {
	Path     []string
	Severity finding.Severity
	Message  string
	// Missing marks a required key that is absent: a pre-processor may still
	// set it, so the check before pre-processors leaves it out.
	Missing bool
	// Unknown marks a key the schema does not know.
	Unknown bool
}

// Check validates a spec (nil, or plain values from the document package).
func (s *Schema) Check(spec any) []Problem {
	var ps []Problem
	if spec == nil {
		spec = map[string]any{}
	}
	s.Field.check(s.What, nil, spec, &ps)
	return ps
}

func (f Field) check(what string, path []string, v any, ps *[]Problem) {
	add := func(sev finding.Severity, format string, args ...any) {
		*ps = append(*ps, Problem{Path: append([]string(nil), path...), Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	name := "the spec"
	if len(path) > 0 {
		name = strings.Join(path, ".")
	}
	if v == nil {
		if f.Type == Object && len(path) == 0 {
			v = map[string]any{}
		} else {
			return // an explicit null means unset
		}
	}
	if str, isStr := v.(string); isStr && f.Expression && strings.Contains(str, "#{") {
		return
	}
	if f.Ignored != "" {
		add(finding.Warn, "%s: %s", name, f.Ignored)
		return
	}
	var ok bool
	switch f.Type {
	case Quantity:
		q, isStr := v.(string)
		if !isStr {
			ok = isPlainType(f.Type, v)
			break
		}
		if _, err := resource.ParseQuantity(q); err != nil {
			add(finding.Error, "%s: %q is not a Kubernetes quantity (e.g. 0.5, 500m, 1, 256Mi, 2Gi)", name, q)
			return
		}
		ok = true
	case StringList, StringOrList:
		ok = f.checkStringList(name, path, v, ps)
	case StringMap:
		ok = checkStringMap(name, path, v, ps)
	case Object:
		ok = f.checkObject(what, name, path, v, ps)
	default:
		ok = isPlainType(f.Type, v)
	}
	if !ok {
		add(finding.Error, "%s must be %s, not %s", name, f.Type, Describe(v))
		return
	}
	if f.Check != nil {
		if msg := f.Check(v); msg != "" {
			add(finding.Error, "%s: %s", name, msg)
		}
	}
}

// isPlainType reports whether v has type t, for the types whose values
// have no parts to check (a Quantity's string is parsed by check).
func isPlainType(t ValueType, v any) bool {
	switch t {
	case String:
		_, ok := v.(string)
		return ok
	case Scalar:
		switch v.(type) {
		case string, bool, int64, float64:
			return true
		}
		return false
	case Bool:
		_, ok := v.(bool)
		return ok
	case Int:
		switch n := v.(type) {
		case int64:
			return true
		case float64:
			return n == math.Trunc(n)
		}
		return false
	case Quantity:
		switch v.(type) {
		case int64, float64, string:
			return true
		}
		return false
	case Map:
		_, ok := v.(map[string]any)
		return ok
	case List:
		_, ok := v.([]any)
		return ok
	}
	return true
}

// checkStringList checks a StringList or StringOrList (which a string is
// too): each item that is not a string is a problem at its index. It
// reports whether v is of the type.
func (f Field) checkStringList(name string, path []string, v any, ps *[]Problem) bool {
	if _, isStr := v.(string); isStr && f.Type == StringOrList {
		return true
	}
	list, isList := v.([]any)
	for i, item := range list {
		if _, s := item.(string); !s {
			*ps = append(*ps, Problem{Path: append(append([]string(nil), path...), fmt.Sprint(i)), Severity: finding.Error,
				Message: fmt.Sprintf("%s[%d] must be a string, not %s", name, i, Describe(item))})
		}
	}
	return isList
}

// checkStringMap checks a StringMap: each value that is not a plain value
// is a problem at its key. It reports whether v is a map.
func checkStringMap(name string, path []string, v any, ps *[]Problem) bool {
	m, isMap := v.(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch m[k].(type) {
		case string, bool, int64, float64, nil:
		default:
			*ps = append(*ps, Problem{Path: append(append([]string(nil), path...), k), Severity: finding.Error,
				Message: fmt.Sprintf("%s.%s must be a plain value, not %s", name, k, Describe(m[k]))})
		}
	}
	return isMap
}

// checkObject checks an Object: its missing required keys, then each key in
// order, unknown, empty when required, or checked by its own Field. It
// reports whether v is a map.
func (f Field) checkObject(what, name string, path []string, v any, ps *[]Problem) bool {
	m, isMap := v.(map[string]any)
	if !isMap {
		return false
	}
	// Only the (few) missing required keys are sorted, not the (many) fields.
	var missing []string
	for k, sub := range f.Fields {
		if _, has := m[k]; !has && sub.Required {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		*ps = append(*ps, Problem{Path: append([]string(nil), path...), Severity: finding.Error, Missing: true,
			Message: fmt.Sprintf("%s needs %s", name, k)})
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sub, known := f.Fields[k]
		if !known {
			if f.Unknown != "" {
				*ps = append(*ps, Problem{Path: append(append([]string(nil), path...), k), Severity: f.Unknown, Unknown: true,
					Message: fmt.Sprintf("unknown key %s for a %s%s", strings.Join(append(append([]string(nil), path...), k), "."), what, suggest(k, f.Fields))})
			}
			continue
		}
		if m[k] == nil && sub.Required {
			*ps = append(*ps, Problem{Path: append(append([]string(nil), path...), k), Severity: finding.Error,
				Message: fmt.Sprintf("%s must not be empty", strings.Join(append(append([]string(nil), path...), k), "."))})
			continue
		}
		sub.check(what, append(append([]string(nil), path...), k), m[k], ps)
	}
	return true
}

// Describe names a value for a message: its type and, for a scalar, the
// value ("the string \"yes\"", "a list").
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "empty"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int64, float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// suggest names a known key that is close to an unknown one (a typo).
func suggest(k string, known map[string]Field) string {
	best, bestD := "", 3
	for cand := range known {
		if d := near.Distance(k, cand); d < bestD || (d == bestD && best != "" && cand < best) {
			best, bestD = cand, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}
