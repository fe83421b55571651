package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/runmemory"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// Renders remembers each target's render from one run to the next of a
// long-lived caller (the reconcile loop, with Options.Encoded): a target
// whose document is unchanged, and whose workflows would get the same
// answer to every question they asked the Context last time, renders as
// last time, without running its workflows again. With thousands of apps
// and one changed, a run renders the targets that read it (rendering every
// target was a third of the CPU of a change run at 10,000 apps).
//
// Workflows are pure and read the run only through the Context (Bound,
// InNamespace, Targets, the Crane owners, Interval), which is what makes
// this sound: the same answers give the same questions after them, and
// the same desired state. An answer that cannot be told from another (a
// resource with no Fingerprint, a target not read from text) keeps the
// target from being remembered.
type Renders struct {
	// A target's last few renders: a run whose workflows take an app back
	// renders a target twice, before and after, and both recur.
	m runmemory.Memory[[]*rendered]

	mu       sync.Mutex
	rendered map[string]bool // the targets rendered anew since the last Sweep
}

// maxRenders is how many renders of one target are remembered.
const maxRenders = 3

// Sweep ends a run: the renders of targets it did not render are
// forgotten.
func (m *Renders) Sweep() {
	if m == nil {
		return
	}
	m.m.Sweep()
	m.mu.Lock()
	m.rendered = nil
	m.mu.Unlock()
}

// Rendered lists the targets ("namespace/name") whose workflows ran since
// the last Sweep: the others were rendered as in the run before.
func (m *Renders) Rendered() []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.rendered))
}

// rendered is one target's render and what it was rendered from.
type rendered struct {
	target    string // the target document's fingerprint
	questions []question
	out       Target // Encoded: its objects' identities and JSON
	external  []External
	findings  []finding.Finding
}

// question is one call of a workflow to the Context: ask puts it again to
// another Context and gives the fingerprint of the answer, answer is the
// fingerprint it had ("" when it could not be told).
type question struct {
	ask    func(*Context) string
	answer string
}

// questions records what a target's workflows ask while they render.
type questions struct {
	asked   []question
	unknown bool // an answer could not be fingerprinted: not remembered
}

// note records a question and its answer's fingerprint (nil q: not
// recording).
func (q *questions) note(answer string, ask func(*Context) string) {
	if q == nil {
		return
	}
	if answer == "" {
		q.unknown = true
	}
	q.asked = append(q.asked, question{ask: ask, answer: answer})
}

func renderKey(t *document.Document) string { return t.Type + "\x00" + t.Namespace + "\x00" + t.Name }

// replay gives the target's remembered render when every question asked
// for it gets the same answer now, and adds its external resources and
// findings to d.
func (m *Renders) replay(c *Context, t *document.Document, d *Desired) (*Target, bool) {
	if m == nil {
		return nil, false
	}
	renders, _ := m.m.Get(renderKey(t))
	target := docsPrint([]*document.Document{t})
	i := slices.IndexFunc(renders, func(r *rendered) bool { return r.target == target && r.answers(c) })
	if target == "" || i < 0 {
		return nil, false
	}
	r := renders[i]
	out := r.out.own()
	d.External = append(d.External, r.external...)
	d.Findings = append(d.Findings, r.findings...)
	return &out, true
}

// answers reports whether every question of the render gets the same
// answer from c.
func (r *rendered) answers(c *Context) bool {
	for _, q := range r.questions {
		if q.ask(c) != q.answer {
			return false
		}
	}
	return true
}

// keep remembers a target's render, unless an answer could not be told.
func (m *Renders) keep(t *document.Document, asked *questions, out *Target, external []External, findings []finding.Finding) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.rendered == nil {
		m.rendered = map[string]bool{}
	}
	m.rendered[t.Namespace+"/"+t.Name] = true
	m.mu.Unlock()
	target := docsPrint([]*document.Document{t})
	if asked == nil || asked.unknown || target == "" {
		return
	}
	r := &rendered{target: target, questions: asked.asked, out: out.own(),
		external: slices.Clone(external), findings: slices.Clone(findings)}
	renders, _ := m.m.Get(renderKey(t))
	m.m.Put(renderKey(t), append([]*rendered{r}, renders[:min(len(renders), maxRenders-1)]...))
}

// own is a copy of the target with slices of its own: Shed and identities
// write into a target's, and the memory's must stay as rendered.
func (t *Target) own() Target {
	c := *t
	c.Objects, c.JSON, c.Workflows = slices.Clone(t.Objects), slices.Clone(t.JSON), slices.Clone(t.Workflows)
	return c
}

// resourcesPrint fingerprints a list of resources, in order; "" when one
// has no fingerprint.
func resourcesPrint(rs []*pipeline.Resource) string {
	h := sha256.New()
	h.Write([]byte("resources"))
	for _, r := range rs {
		if r.Fingerprint == "" {
			return ""
		}
		h.Write([]byte(r.Fingerprint))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// docsPrint fingerprints a list of documents, in order, by source, file
// and text; "" when one was not read from text.
func docsPrint(ds []*document.Document) string {
	h := sha256.New()
	h.Write([]byte("documents"))
	for _, d := range ds {
		if d.Digest == "" {
			return ""
		}
		for _, part := range []string{d.Source.Name, d.Source.Role, d.File, d.Digest} {
			h.Write([]byte(part))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Interval is the start of the interval of length every that the render's
// time (Options.Now) is in: what a workflow renders by the clock (the
// PrePuller's refresh) reads, so that a remembered render is reused within
// one interval and not past it.
func (c *Context) Interval(every time.Duration) time.Time {
	at := c.now.Truncate(every)
	c.asked.note(at.Format(time.RFC3339Nano), func(c *Context) string { return c.now.Truncate(every).Format(time.RFC3339Nano) })
	return at
}
