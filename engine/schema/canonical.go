package schema

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/laiki-platform/laiki/engine/finding"
)

// ShinyProxy binds an app's settings with Spring Boot's relaxed binding:
// containerPrivileged, container_privileged and Container-Privileged all set
// container-privileged (Spring compares names in lower case with every
// character that is not a letter or digit left out). A policy that looks
// for container-privileged must see every spelling of it, so the keys of a
// spec such a component binds are read in their canonical form before any
// check or policy sees them.

// Normalize gives the form Spring compares a key in: lower case, letters
// and digits only. '.' and '[' are kept: in a key they are a property path
// (container-env.X, container-volumes[0]) that binds into another key, and
// such a key is never another spelling of a known one.
func Normalize(key string) string {
	var b strings.Builder
	for _, r := range key {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '[', r == ']':
			b.WriteRune(r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r) // never equal to a known (ASCII) key
		}
	}
	return b.String()
}

// IsPropertyPath reports whether a key is a Spring property path rather
// than a name: container-env.X sets container-env's X, container-volumes[0]
// the first volume.
func IsPropertyPath(key string) bool { return strings.ContainsAny(key, ".[]") }

// Rename is a key written in another spelling than its canonical one.
type Rename struct {
	Path     []string // of the map holding it, inside the spec
	From, To string
}

// Canonicalize rewrites, in place, the keys of spec (and of the nested
// objects the schema describes) that are other spellings of known keys.
// Keys that are data (the names in container-env, labels) are never
// rewritten: only objects with fields are walked. Two spellings of one key
// in one map are a problem, and neither is rewritten.
func (s *Schema) Canonicalize(spec any) ([]Rename, []Problem) {
	var rs []Rename
	var ps []Problem
	s.Field.canonicalize(nil, spec, s.index(), &rs, &ps)
	return rs, ps
}

func (f Field) canonicalize(path []string, v any, idx map[string]map[string]string, rs *[]Rename, ps *[]Problem) {
	m, ok := v.(map[string]any)
	if !ok || f.Type != Object {
		return
	}
	canon := idx[strings.Join(path, "\x00")]
	keys := slices.Sorted(maps.Keys(m))
	// Which keys of this map spell each known key.
	spellings := map[string][]string{}
	for _, k := range keys {
		if _, known := f.Fields[k]; known {
			spellings[k] = append(spellings[k], k)
			continue
		}
		if c, ok := canon[Normalize(k)]; ok {
			spellings[c] = append(spellings[c], k)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(spellings)) {
		ks := spellings[c]
		if len(ks) > 1 {
			*ps = append(*ps, Problem{Path: appendPath(path, ks[len(ks)-1]), Severity: finding.Error,
				Message: fmt.Sprintf("%s are one key for ShinyProxy (Spring binds every spelling of a name to it): write it once, as %s",
					strings.Join(quoteAll(ks), " and "), c)})
			continue
		}
		if ks[0] != c {
			m[c] = m[ks[0]]
			delete(m, ks[0])
			*rs = append(*rs, Rename{Path: append([]string(nil), path...), From: ks[0], To: c})
		}
	}
	// Into the objects of this map, by name, as the schema's fields in
	// sorted order would: those the map does not hold give nothing, and a
	// schema has far more fields than an app sets (sorting every field of
	// ShinyProxyApp for each app was 3% of a check).
	var objects []string
	for k := range m {
		if sub, ok := f.Fields[k]; ok && sub.Type == Object {
			objects = append(objects, k)
		}
	}
	sort.Strings(objects)
	for _, k := range objects {
		f.Fields[k].canonicalize(appendPath(path, k), m[k], idx, rs, ps)
	}
}

// index maps, for each object of the schema (by path), the normal form of
// each of its keys to the key; built once.
func (s *Schema) index() map[string]map[string]string {
	s.once.Do(func() {
		s.canon = map[string]map[string]string{}
		var walk func(path []string, f Field)
		walk = func(path []string, f Field) {
			if f.Type != Object {
				return
			}
			m := map[string]string{}
			for k, sub := range f.Fields {
				m[Normalize(k)] = k
				walk(appendPath(path, k), sub)
			}
			s.canon[strings.Join(path, "\x00")] = m
		}
		walk(nil, s.Field)
	})
	return s.canon
}

func appendPath(path []string, k string) []string {
	return append(append([]string(nil), path...), k)
}

func quoteAll(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = fmt.Sprintf("%q", k)
	}
	return out
}
