// Package types is the registry of target and resource types: for each,
// its schema (from its Go type in engine/api, see engine/schema), the
// target types a resource binds to and its identity key, and, for a
// resource type, Settings, the key of its target's spec that holds the
// platform's settings for it, with their check. The types register from
// init in their workflow's file (engine/workflow/awsecr.go registers
// AwsEcrRepository and its workflow), as database/sql drivers do: a
// program that reads documents links engine/workflow. One registry pattern
// across Laiki: a map behind a lock, a panic on a second registration of a
// name, listings sorted.
package types

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/laiki-platform/laiki/engine/internal/registry"
	"github.com/laiki-platform/laiki/engine/schema"
)

// Name is what an app id, and a target's or pre-processor's name and
// namespace, may be: ShinyProxy puts the id in URLs (/app/ID) and Laiki
// puts ids and names in object and file names, so they are kept to a safe
// alphabet, at most 63 characters.
var Name = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// TargetType is a kind of platform component that resources bind to.
type TargetType struct {
	Name string
	// Kind of the Kubernetes object form (group laiki.io).
	Kind string
	// Schema of laiki-spec; nil accepts any spec (a component whose own
	// configuration Laiki passes on as written).
	Schema *schema.Schema
	// Check, when set, adds checks that a schema cannot express.
	Check func(spec any) []schema.Problem
}

// ResourceType is a kind of thing a team declares, bound to a target.
type ResourceType struct {
	Name string
	// Kind of the Kubernetes object form (group laiki.io).
	Kind string
	// TargetTypes a resource of this type may bind to; empty means any.
	TargetTypes []string
	// IdentityKey is the spec key that names the resource within its target
	// (two resources with the same value in one target are an error).
	IdentityKey string
	Schema      *schema.Schema
	// Settings is the key of a bound target's spec under which the platform
	// sets what resources of this type may not choose (laiki-ecr): it is the
	// type's, so the target's check runs CheckSettings on it and the
	// target's workflows leave it out of what the component reads.
	Settings string
	// CheckSettings checks the value under Settings (problem paths are
	// relative to it).
	CheckSettings func(v any) []schema.Problem
}

var (
	targets   = registry.New[*TargetType]("target type")
	resources = registry.New[*ResourceType]("resource type")
)

// RegisterTarget adds a target type; a second type of the same name is a
// programming error.
func RegisterTarget(t *TargetType) { targets.Add(t.Name, t) }

// RegisterResource adds a resource type.
func RegisterResource(r *ResourceType) {
	if r.IdentityKey == "" || r.Schema == nil {
		panic(fmt.Sprintf("resource type %s needs an identity key and a schema", r.Name))
	}
	resources.Add(r.Name, r)
}

// Target looks up a target type.
func Target(name string) (*TargetType, bool) { return targets.Get(name) }

// Resource looks up a resource type.
func Resource(name string) (*ResourceType, bool) { return resources.Get(name) }

// TargetNames lists the registered target types, sorted.
func TargetNames() []string { return targets.Names() }

// ResourceNames lists the registered resource types, sorted.
func ResourceNames() []string { return resources.Names() }

// Problems are a target spec's problems that its schema cannot express: the
// target type's own check, and the checks of the settings that the resource
// types binding to it keep under their keys.
func (t *TargetType) Problems(spec any) []schema.Problem {
	var ps []schema.Problem
	if t.Check != nil {
		ps = t.Check(spec)
	}
	m, _ := spec.(map[string]any)
	for _, r := range settingsOf(t.Name) {
		v, ok := m[r.Settings]
		if !ok || r.CheckSettings == nil {
			continue
		}
		for _, p := range r.CheckSettings(v) {
			p.Path = append([]string{r.Settings}, p.Path...)
			ps = append(ps, p)
		}
	}
	return ps
}

// SettingsKeys are the keys of a target type's spec that belong to the
// resource types binding to it (see ResourceType.Settings), sorted.
func SettingsKeys(targetType string) []string {
	var keys []string
	for _, r := range settingsOf(targetType) {
		keys = append(keys, r.Settings)
	}
	return keys
}

// settingsOf lists the resource types with settings on a target type, by
// name.
func settingsOf(targetType string) []*ResourceType {
	all, _ := resources.All()
	var out []*ResourceType
	for _, r := range all {
		if r.Settings != "" && r.Binds(targetType) {
			out = append(out, r)
		}
	}
	return out
}

// Binds reports whether a resource of type r may bind to a target of type t.
func (r *ResourceType) Binds(t string) bool {
	if len(r.TargetTypes) == 0 {
		return true
	}
	return slices.Contains(r.TargetTypes, t)
}
