// Package jsonschema writes JSON Schemas (draft-07, what yaml-language-server
// and most editors read) of Laiki documents. They come from the schemas of
// the type registry, which come from the Go types the CRDs are generated
// from: the editor, the CRDs and the engine's checks agree on every key.
package jsonschema

import (
	"fmt"
	"maps"
	"slices"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// Draft is the JSON Schema version written.
const Draft = "http://json-schema.org/draft-07/schema#"

// PreProcessor names the schema of pre-processor documents (one for all: a
// pre-processor's parameters are its Rego policy's to check).
const PreProcessor = "PreProcessor"

// quantity is a Kubernetes quantity written as a string (0.5, 500m, 256Mi, 1e3).
const quantity = `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`

// Schema is a JSON Schema as a plain map, ready for encoding/json.
type Schema = map[string]any

// Names lists every document schema: target types, resource types, and
// PreProcessor.
func Names() []string {
	return append(append(types.TargetNames(), types.ResourceNames()...), PreProcessor)
}

// Document returns the self-contained schema of one kind of document.
func Document(name string) (Schema, error) {
	body, err := documentBody(name)
	if err != nil {
		return nil, err
	}
	out := Schema{"$schema": Draft}
	for k, v := range body {
		out[k] = v
	}
	return out, nil
}

// All returns one schema for every Laiki document, choosing the kind's
// schema by the type named in laiki-metadata: the one schema to give an
// editor for a whole repository.
func All() (Schema, error) {
	defs := Schema{}
	var cases []any
	for _, name := range Names() {
		body, err := documentBody(name)
		if err != nil {
			return nil, err
		}
		defs[name] = body
		key, value := typeKey(name)
		when := Schema{"required": []string{key}}
		if value != "" {
			when["properties"] = Schema{key: Schema{"const": value}}
		}
		cases = append(cases, Schema{
			"if":   Schema{"properties": Schema{document.KeyMetadata: when}, "required": []string{document.KeyMetadata}},
			"then": Schema{"$ref": "#/definitions/" + name},
		})
	}
	return Schema{
		"$schema":     Draft,
		"title":       "Laiki document",
		"description": "A Laiki target, resource or pre-processor: laiki-metadata says which, laiki-spec is its content.",
		"type":        "object",
		"required":    []string{document.KeyMetadata, document.KeySpec},
		"properties": Schema{
			document.KeyMetadata: Schema{
				"type": "object",
				"properties": Schema{
					document.MetaTargetType:       Schema{"enum": types.TargetNames(), "description": "a target: a platform component resources bind to"},
					document.MetaResourceType:     Schema{"enum": types.ResourceNames(), "description": "a resource, bound to a target"},
					document.MetaPreProcessorName: Schema{"type": "string", "description": "a pre-processor: the Rego policy laiki.preprocessors.<name>"},
				},
				"oneOf": []any{
					Schema{"required": []string{document.MetaTargetType}},
					Schema{"required": []string{document.MetaResourceType}},
					Schema{"required": []string{document.MetaPreProcessorName}},
				},
			},
		},
		"allOf":       cases,
		"definitions": defs,
	}, nil
}

// typeKey is the metadata key and value that select a schema; any value of
// the key selects the pre-processor schema.
func typeKey(name string) (key, value string) {
	if name == PreProcessor {
		return document.MetaPreProcessorName, ""
	}
	if _, ok := types.Target(name); ok {
		return document.MetaTargetType, name
	}
	return document.MetaResourceType, name
}

// documentBody is the schema of one kind, without $schema (so that All can
// hold it among its definitions).
func documentBody(name string) (Schema, error) {
	var kind document.Kind
	var spec Schema
	what := name
	switch t, isTarget := types.Target(name); {
	case name == PreProcessor:
		kind, what = document.PreProcessor, "pre-processor"
		spec = Schema{"type": []string{"object", "null"}, "description": "the pre-processor's parameters, checked by its Rego policy"}
	case isTarget:
		kind, spec = document.Target, fromSchema(t.Schema)
	default:
		r, ok := types.Resource(name)
		if !ok {
			return nil, fmt.Errorf("no document type %q (known: %v)", name, Names())
		}
		kind, spec = document.Resource, fromSchema(r.Schema)
	}
	required, optional := document.MetadataKeys(kind)
	meta := Schema{}
	for i, k := range append(append([]string(nil), required...), optional...) {
		meta[k] = Schema{"type": "string", "minLength": 1}
		if i == 0 && kind != document.PreProcessor {
			meta[k] = Schema{"const": name}
		}
	}
	return Schema{
		"title":                fmt.Sprintf("Laiki %s", what),
		"type":                 "object",
		"required":             []string{document.KeyMetadata, document.KeySpec},
		"additionalProperties": false,
		"properties": Schema{
			document.KeyMetadata: Schema{"type": "object", "required": required, "additionalProperties": false, "properties": meta},
			document.KeySpec:     spec,
		},
	}, nil
}

// fromSchema turns a registry schema into JSON Schema; nil accepts any map.
func fromSchema(s *schema.Schema) Schema {
	if s == nil {
		return Schema{"type": []string{"object", "null"}}
	}
	out := field(s.Field)
	out["title"] = s.What
	out["type"] = []string{"object", "null"} // an empty laiki-spec is a null in YAML
	return out
}

func field(f schema.Field) Schema {
	switch {
	case f.Ignored != "":
		// Not read by the component: flagged, as the engine warns.
		return Schema{"deprecated": true, "description": f.Ignored}
	case f.Expression && f.Type != schema.String:
		// A Spring expression is a value of it too.
		plain := f
		plain.Expression = false
		return Schema{"anyOf": []any{field(plain), Schema{"type": "string", "pattern": "#\\{"}}}
	}
	switch f.Type {
	case schema.String:
		return Schema{"type": "string"}
	case schema.Scalar:
		return Schema{"type": []string{"string", "number", "boolean"}}
	case schema.Bool:
		return Schema{"type": "boolean"}
	case schema.Int:
		return Schema{"type": "integer"}
	case schema.Quantity:
		return Schema{"anyOf": []any{Schema{"type": "number"}, Schema{"type": "string", "pattern": quantity}}}
	case schema.StringList:
		return Schema{"type": "array", "items": Schema{"type": "string"}}
	case schema.StringOrList:
		return Schema{"anyOf": []any{Schema{"type": "string"}, Schema{"type": "array", "items": Schema{"type": "string"}}}}
	case schema.StringMap:
		return Schema{"type": "object", "additionalProperties": Schema{"type": []string{"string", "number", "boolean", "null"}}}
	case schema.Map:
		return Schema{"type": "object"}
	case schema.List:
		return Schema{"type": "array"}
	case schema.Object:
		props := Schema{}
		var required []string
		names := slices.Sorted(maps.Keys(f.Fields))
		for _, k := range names {
			sub := f.Fields[k]
			s := field(sub)
			if sub.Required {
				required = append(required, k)
			} else {
				s = nullable(s) // `key:` with no value is a null, which means unset
			}
			props[k] = s
		}
		out := Schema{"type": "object", "properties": props}
		if len(required) > 0 {
			out["required"] = required
		}
		// Keys the engine reports (as errors or warnings) are flagged in the
		// editor too: most are typing mistakes.
		if f.Unknown != "" {
			out["additionalProperties"] = false
		}
		return out
	}
	return Schema{}
}

func nullable(s Schema) Schema {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []string{t, "null"}
		return s
	case []string:
		s["type"] = append(t, "null")
		return s
	}
	if len(s) == 0 {
		return s
	}
	return Schema{"anyOf": []any{s, Schema{"type": "null"}}}
}
