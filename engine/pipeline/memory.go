package pipeline

import "sync"

// runMemory keeps values from one run to the next of a long-lived caller
// (the reconcile loop), by a key that names everything the value depends
// on. What a run uses is kept for the next; what it does not is forgotten
// when it ends (sweep), so the memory holds no more than one run's values.
type runMemory[V any] struct {
	mu        sync.Mutex
	now, last map[string]V
}

func (m *runMemory[V]) get(key string) (V, bool) {
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

func (m *runMemory[V]) put(key string, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now == nil {
		m.now = map[string]V{}
	}
	m.now[key] = v
}

// sweep ends a run: what it did not use is forgotten.
func (m *runMemory[V]) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last, m.now = m.now, nil
}
