package reconcile

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// A Registry makes the desired state of one type of external resource (an
// image repository in a registry outside Kubernetes) real. ECR is the first
// (ecr.go); another registry, Harbor say, is one more file that implements
// Registry and calls RegisterExternal in its init, with a workflow that
// renders its type's desired state.
type Registry interface {
	// Reconcile makes every desired resource exist with its settings,
	// adopting one that exists already and setting back what drifted, and
	// retires the resources this instance made that are no longer desired
	// (kept and marked orphaned, or deleted where the platform opts in).
	// Each resource is one ExternalChange; one that fails never holds back
	// the others. With dryRun it only reads, and says what it would do.
	Reconcile(ctx context.Context, desired []workflow.External, dryRun bool) []ExternalChange
}

// External operations.
const (
	ExtCreated   = "created"
	ExtAdopted   = "adopted"
	ExtCorrected = "corrected" // a setting that drifted was set back
	ExtUnchanged = "unchanged"
	ExtOrphaned  = "orphaned" // its resource is gone; kept, and tagged so
	ExtDeleted   = "deleted"
	ExtFailed    = "failed"
)

// ExternalChange is what a registry did, or would do, to one resource.
type ExternalChange struct {
	Type string `json:"type"`
	Name string `json:"name"`
	// Resource is the Key of the Laiki resource it is for (empty for an
	// orphan whose resource is gone).
	Resource string `json:"resource,omitempty"`
	Op       string `json:"op"`
	// Details say what changed (or would): "tag mutability MUTABLE → IMMUTABLE".
	Details []string `json:"details,omitempty"`
	Err     error    `json:"-"`
}

func (c ExternalChange) String() string {
	s := fmt.Sprintf("%s %s", c.Type, c.Name)
	for _, d := range c.Details {
		s += "; " + d
	}
	if c.Err != nil {
		s += ": " + c.Err.Error()
	}
	return s
}

// ExternalOptions configure the registries.
type ExternalOptions struct {
	// Instance tells two Laiki installations apart (default the Applier's).
	Instance string
	// MaxBackoff bounds the wait between two retries of a throttled or
	// failed call (default 20s).
	MaxBackoff time.Duration
}

// NewRegistry makes a registry.
type NewRegistry func(ExternalOptions) Registry

var (
	registryMu sync.Mutex
	registries = map[string]NewRegistry{}
)

// RegisterExternal registers the registry of an external resource type (the
// Type of the workflow's External entries).
func RegisterExternal(typ string, f NewRegistry) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registries[typ] = f
}

// externals reconciles every registered type: each registry gets the
// desired resources of its type (none is a valid answer: it still retires
// what it made). The registries are made once per Reconciler and kept, so
// that they may keep clients and what they learnt between runs.
// declaredKey carries, to the registries, the keys of the resources the
// sources still declare though they are rejected now: their repositories are
// not "no longer wanted" (a contested or broken file is not a removed one),
// so they are neither orphaned nor deleted.
type declaredKey struct{}

func declared(ctx context.Context) map[string]bool {
	m, _ := ctx.Value(declaredKey{}).(map[string]bool)
	return m
}

// stillDeclared lists the keys of the resources of a run that are rejected
// (not removed).
func stillDeclared(res *engine.Result) map[string]bool {
	out := map[string]bool{}
	if res == nil {
		return out
	}
	for _, x := range res.Resources {
		if x.ID != "" && !x.Accepted {
			out[x.Key()] = true
		}
	}
	return out
}

func (r *Reconciler) externals(ctx context.Context, desired []workflow.External, res *engine.Result) []ExternalChange {
	ctx = context.WithValue(ctx, declaredKey{}, stillDeclared(res))
	registryMu.Lock()
	types := make([]string, 0, len(registries))
	for t := range registries {
		types = append(types, t)
	}
	registryMu.Unlock()
	sort.Strings(types)
	if r.registries == nil {
		r.registries = map[string]Registry{}
	}
	var out []ExternalChange
	for _, typ := range types {
		reg, ok := r.registries[typ]
		if !ok {
			opts := r.ExternalOptions
			if opts.Instance == "" {
				opts.Instance = r.Applier.instance()
			}
			registryMu.Lock()
			reg = registries[typ](opts)
			registryMu.Unlock()
			r.registries[typ] = reg
		}
		var mine []workflow.External
		for _, d := range desired {
			if d.Type == typ {
				mine = append(mine, d)
			}
		}
		out = append(out, reg.Reconcile(ctx, mine, r.Applier.DryRun)...)
	}
	return out
}
