// Package runmemory keeps values from one run to the next of a long-lived
// caller (the reconcile loop), by a key that names everything a value
// depends on: what a run uses is kept for the next, and what it does not is
// forgotten when it ends (Sweep), so a memory holds no more than one run's
// values.
package runmemory

import "sync"

// Memory is safe for concurrent use; its zero value is empty.
type Memory[V any] struct {
	mu        sync.Mutex
	now, last map[string]V
}

// Get gives the value of key from this run or the last, keeping it for the
// next.
func (m *Memory[V]) Get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now == nil {
		m.now = map[string]V{}
	}
	v, ok := m.now[key]
	if !ok {
		if v, ok = m.last[key]; ok {
			m.now[key] = v
		}
	}
	return v, ok
}

// Put keeps v for key, for the rest of this run and the next.
func (m *Memory[V]) Put(key string, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now == nil {
		m.now = map[string]V{}
	}
	m.now[key] = v
}

// Sweep ends a run: what it did not use is forgotten.
func (m *Memory[V]) Sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last, m.now = m.now, nil
}
