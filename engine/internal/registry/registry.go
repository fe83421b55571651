// Package registry is the one registry pattern of the engine's extension
// points (target and resource types, workflows): entries by name, added
// from init, a second entry of one name a programming error, listings
// sorted, safe to read from any goroutine.
package registry

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Registry holds entries of one kind by name.
type Registry[T any] struct {
	what    string // what an entry is, for the panic ("workflow")
	mu      sync.RWMutex
	entries map[string]T
	// version counts additions, for callers that derive something from
	// the whole registry and keep it until it changes.
	version int
}

// New makes a registry of entries that are what ("target type").
func New[T any](what string) *Registry[T] {
	return &Registry[T]{what: what, entries: map[string]T{}}
}

// Add registers an entry; a second one of the same name panics.
func (r *Registry[T]) Add(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.entries[name]; dup {
		panic(fmt.Sprintf("%s %s registered twice", r.what, name))
	}
	r.entries[name] = v
	r.version++
}

// Get looks an entry up.
func (r *Registry[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.entries[name]
	return v, ok
}

// Names lists the names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.entries))
}

// Version counts the entries added so far: what is derived from All stays
// good while it does not move.
func (r *Registry[T]) Version() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.version
}

// All lists the entries by name, with the registry's version.
func (r *Registry[T]) All() ([]T, int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]T, 0, len(r.entries))
	for _, name := range slices.Sorted(maps.Keys(r.entries)) {
		out = append(out, r.entries[name])
	}
	return out, r.version
}
