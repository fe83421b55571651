package webhook

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"slices"
	"sync"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// DefaultCacheSize is how many judgments an Admission remembers unless told
// otherwise (Admission.CacheSize): a few KB each.
const DefaultCacheSize = 4096

// judgment is what the engine made of a request's object: the verdict, and
// for the mutating webhook the spec its pre-processors gave (object form;
// nil when none ran). It is shared by every request answered from it, so
// nothing may change it.
type judgment struct {
	v    pipeline.Verdict // without Resource: what answers need is here
	spec any
}

// cacheable: a judgment with an error finding is not kept, as the
// pipeline's Decisions does not keep one: a policy that timed out or failed may not do
// so again, and a refusal for an error is cheap to make anew.
func (j *judgment) cacheable() bool {
	for _, f := range j.v.Findings {
		if f.Severity == finding.Error {
			return false
		}
	}
	return true
}

// judgments remembers the latest judgments under the state in force, so
// that an object seen again is not judged again: the API server sends a
// server-side dry run and then the apply with the same object (kubectl
// apply --dry-run=server, and the reconcile loop for an object whose state
// it does not know), and a manifest applied again is the same object. A judgment is only ever answered under the state
// it was made under (the platform's targets, pre-processors and policies,
// and the cluster's Laiki objects): Admission.build starts a new set of
// judgments with every new state, and a judgment made under an older one is
// not kept.
type judgments struct {
	mu    sync.Mutex
	state *pipeline.Index
	max   int
	byKey map[[sha256.Size]byte]*list.Element
	lru   list.List // of *cached, most recently used first
	// hits and misses count lookups under the current state, for tests.
	hits, misses int
}

type cached struct {
	key [sha256.Size]byte
	j   *judgment
}

// reset starts the judgments of a new state; max <= 0 keeps none.
func (c *judgments) reset(state *pipeline.Index, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.max = state, max
	c.byKey = map[[sha256.Size]byte]*list.Element{}
	c.lru.Init()
	c.hits, c.misses = 0, 0
}

func (c *judgments) get(state *pipeline.Index, key [sha256.Size]byte) *judgment {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state != c.state || c.max <= 0 {
		return nil
	}
	e, ok := c.byKey[key]
	if !ok {
		c.misses++
		return nil
	}
	c.hits++
	c.lru.MoveToFront(e)
	return e.Value.(*cached).j
}

func (c *judgments) put(state *pipeline.Index, key [sha256.Size]byte, j *judgment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state != c.state || c.max <= 0 {
		return // made under a state no longer in force
	}
	if e, ok := c.byKey[key]; ok {
		e.Value.(*cached).j = j
		c.lru.MoveToFront(e)
		return
	}
	c.byKey[key] = c.lru.PushFront(&cached{key: key, j: j})
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		delete(c.byKey, last.Value.(*cached).key)
		c.lru.Remove(last)
	}
}

// judgmentKey names a judgment by all it depends on besides the state: the
// parts of the object that the engine reads (cluster.ObjectDocument reads
// its kind, name, namespace, the laiki.io/name and laiki.io/namespace
// annotations and its spec; laiki.io/source is the owner's name by then),
// the source it is judged as, and whether governance is part of it. Not
// the rest of the metadata, which differs between a dry run and the apply
// (uid, creationTimestamp) and from update to update (managedFields) and
// which the engine does not read. The digest is a cryptographic one: a team
// must not be able to make an object whose key is another's. ok is false
// for an object with values JSON does not give, never cached.
func judgmentKey(obj map[string]any, owner *source.Source, govern bool) (key [sha256.Size]byte, ok bool) {
	d := digester{h: sha256.New(), ok: true}
	d.str(owner.Name)
	d.str(owner.Role)
	d.bool(govern)
	d.field(obj, "apiVersion")
	d.field(obj, "kind")
	meta, _ := obj["metadata"].(map[string]any)
	d.field(meta, "name")
	d.field(meta, "namespace")
	ann, _ := meta["annotations"].(map[string]any)
	d.field(ann, kube.AnnotationName)
	d.field(ann, kube.AnnotationNamespace)
	d.field(obj, "spec")
	d.h.Sum(key[:0])
	return key, d.ok
}

// digester feeds JSON values to a hash, each with its type and length, so
// that two different values never feed the same bytes.
type digester struct {
	h   hash.Hash
	buf [9]byte
	ok  bool
}

func (d *digester) tag(t byte, n uint64) {
	d.buf[0] = t
	binary.BigEndian.PutUint64(d.buf[1:], n)
	d.h.Write(d.buf[:])
}

func (d *digester) str(s string) {
	d.tag('s', uint64(len(s)))
	d.h.Write([]byte(s))
}

func (d *digester) bool(b bool) {
	if b {
		d.tag('t', 0)
	} else {
		d.tag('f', 0)
	}
}

// field feeds m[k], or that there is none (m may be nil).
func (d *digester) field(m map[string]any, k string) {
	v, ok := m[k]
	if !ok {
		d.tag('-', 0)
		return
	}
	d.value(v)
}

func (d *digester) value(v any) {
	switch x := v.(type) {
	case nil:
		d.tag('n', 0)
	case bool:
		d.bool(x)
	case float64:
		d.tag('d', math.Float64bits(x))
	case string:
		d.str(x)
	case []any:
		d.tag('a', uint64(len(x)))
		for _, e := range x {
			d.value(e)
		}
	case map[string]any:
		d.tag('m', uint64(len(x)))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			d.str(k)
			d.value(x[k])
		}
	default:
		// Not what encoding/json gives: judged, never remembered.
		d.ok = false
	}
}
