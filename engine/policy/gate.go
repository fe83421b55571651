package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Gate decides which policy set is in force where policies change while
// Laiki runs (the operator, the webhook): a new set is compiled and its tests
// (the built-in ones and the platform's *_test.rego) are run; a set that
// fails either is refused and the set in force stays. A set is judged once:
// asking again with the same files gives the same answer at no cost.
type Gate struct {
	// TestTimeout bounds each Rego test (DefaultTimeout by default).
	TestTimeout time.Duration

	mu      sync.Mutex
	current *Policies
	key     string  // of the files of current
	refused *Reload // the last set refused, while it is still what is read
	// refusedKey identifies the files of the set refused.
	refusedKey string
}

// Reload says which policy set decides and what became of the set read.
type Reload struct {
	// Revision of the set read now; InForce of the set deciding (the same
	// unless the set read was refused).
	Revision, InForce string
	// Err says why the set read was refused; nil when it is in force.
	Err error
	// Location of the first problem (a line of a policy, or a failing test).
	Location finding.Location
	// New is set for the call that judged the set (the first to read it);
	// later calls with the same files get the same answer without it. A
	// caller that shares the gate (the reconcile loop with the webhook)
	// tells changes by the revisions instead.
	New bool
}

// Refused reports whether the set read is not the one deciding.
func (r *Reload) Refused() bool { return r != nil && r.Err != nil }

// Policies returns the set in force for these platform policies, tests and
// policy-data. With no set in force yet, a set that fails is an error, as
// Compile's: there is nothing to fall back on.
func (g *Gate) Policies(ctx context.Context, platform, tests []Module, config map[string]any) (*Policies, *Reload, error) {
	key := filesKey(platform, tests, config)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.current != nil && key == g.key:
		return g.current, &Reload{Revision: g.current.Revision, InForce: g.current.Revision}, nil
	case g.refused != nil && key == g.refusedKey:
		r := *g.refused
		r.New = false
		return g.current, &r, nil
	}

	p, loc, err := g.judge(ctx, platform, tests, config)
	if err == nil {
		g.current, g.key, g.refused = p, key, nil
		return p, &Reload{Revision: p.Revision, InForce: p.Revision, New: true}, nil
	}
	if g.current == nil {
		return nil, nil, err
	}
	revision := key[:16]
	if p != nil {
		revision = p.Revision
	}
	g.refused = &Reload{Revision: revision, InForce: g.current.Revision, Err: err, Location: loc, New: true}
	g.refusedKey = key
	return g.current, g.refused, nil
}

// judge compiles a set and runs its tests.
func (g *Gate) judge(ctx context.Context, platform, tests []Module, config map[string]any) (*Policies, finding.Location, error) {
	p, err := Compile(ctx, platform, config)
	if err != nil {
		return nil, compileLocation(err), err
	}
	report, err := Test(ctx, platform, tests, TestOptions{Timeout: g.TestTimeout, Config: config, SkipBuiltinTests: true})
	if err != nil {
		return p, compileLocation(err), err
	}
	var failed []string
	var loc finding.Location
	for _, r := range report.Results {
		if r.Pass() || r.Skip {
			continue
		}
		where := ""
		if r.Location != nil {
			if loc.File == "" {
				loc = finding.Location{File: r.Location.File, Line: r.Location.Row, Column: r.Location.Col}
			}
			where = fmt.Sprintf("%s:%d: ", r.Location.File, r.Location.Row)
		}
		what := "failed"
		if r.Error != nil {
			what = "error: " + r.Error.Error()
		}
		failed = append(failed, fmt.Sprintf("%s%s.%s %s", where, strings.TrimPrefix(r.Package, "data."), r.Name, what))
	}
	if len(failed) > 0 {
		return p, loc, fmt.Errorf("%d Rego test(s) do not pass: %s", len(failed), strings.Join(failed, "; "))
	}
	return p, loc, nil
}

func compileLocation(err error) finding.Location {
	var ce *CompileError
	if errors.As(err, &ce) && len(ce.Errors) > 0 && ce.Errors[0].Location != nil {
		l := ce.Errors[0].Location
		return finding.Location{File: l.File, Line: l.Row, Column: l.Col}
	}
	return finding.Location{}
}

// filesKey identifies a set of files and policy-data (tests included, unlike
// a Revision: a new failing test must be noticed).
func filesKey(platform, tests []Module, config map[string]any) string {
	h := sha256.New()
	for _, group := range [][]Module{platform, tests} {
		for _, m := range group {
			fmt.Fprintf(h, "%s\x00%d\x00", m.File, len(m.Text))
			h.Write(m.Text)
		}
		h.Write([]byte{0xff})
	}
	data, _ := json.Marshal(config)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
