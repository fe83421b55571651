package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// A Provisioner makes the desired state of one type of external resource (an
// image repository in a registry outside Kubernetes) real. ECR is the first
// (ecr.go); another registry, Harbor say, is one more file that implements
// Provisioner and calls RegisterProvisioner in its init, with a workflow that
// renders its type's desired state.
type Provisioner interface {
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
	// ExtForgotten: a resource Laiki made was deleted (or made anew) by
	// someone else; Laiki forgets it and touches it no more.
	ExtForgotten = "forgotten"
	ExtFailed    = "failed"
	// ExtStalled is a permanent failure said before (ExtFailed, Terminal)
	// and unchanged since: reported again, retried only when something
	// changes, and no new event.
	ExtStalled = "stalled"
)

// ExternalChange is what a provisioner did, or would do, to one resource.
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
	// Terminal marks an Err that retrying cannot mend (ECR cannot change a
	// repository's encryption; an adoption the platform does not allow):
	// the operator does not back off and retry it, and it is said once.
	Terminal bool `json:"terminal,omitempty"`
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

// ExternalOptions configure the provisioners.
type ExternalOptions struct {
	// Instance tells two Laiki installations apart (default the Applier's).
	Instance string
	// MaxBackoff bounds the wait between two retries of a throttled or
	// failed call (default 20s).
	MaxBackoff time.Duration
	// CallTimeout bounds each call to a registry, its retries included
	// (default 2m), so that an endpoint that does not answer fails the run
	// rather than holding it.
	CallTimeout time.Duration
	// DriftInterval is how often everything a registry holds is read and
	// compared (default 10m); between two, a run reads one listing per
	// registry and acts on what changed in Git or shows in it at once.
	DriftInterval time.Duration
	// Store and StoreNamespace keep what the provisioners made and adopted
	// (the Reconciler's status client and namespace; externals sets them):
	// nil keeps it for the life of the process only.
	Store          client.Client
	StoreNamespace string
}

// NewProvisioner makes a provisioner.
type NewProvisioner func(ExternalOptions) Provisioner

var (
	provisionersMu sync.Mutex
	provisioners   = map[string]NewProvisioner{}
	// handledBy maps a type to the registered type whose provisioner takes
	// it too (ECR's creation templates go to the repositories' provisioner,
	// which keeps one set of clients and records for both).
	handledBy = map[string]string{}
)

// RegisterProvisioner registers the provisioner of an external resource type (the
// Type of the workflow's External entries), and of other types it takes
// too; a type registered twice is a programming error.
func RegisterProvisioner(typ string, f NewProvisioner, alsoTakes ...string) {
	provisionersMu.Lock()
	defer provisionersMu.Unlock()
	for _, t := range append([]string{typ}, alsoTakes...) {
		if _, dup := provisioners[t]; dup {
			panic(fmt.Sprintf("external type %s registered twice", t))
		}
		if owner, dup := handledBy[t]; dup {
			panic(fmt.Sprintf("external type %s registered twice (its provisioner is %s's)", t, owner))
		}
	}
	provisioners[typ] = f
	for _, other := range alsoTakes {
		handledBy[other] = typ
	}
}

// provisionerFor is the registered type whose provisioner takes a type.
func provisionerFor(typ string) string {
	provisionersMu.Lock()
	defer provisionersMu.Unlock()
	if owner, ok := handledBy[typ]; ok {
		return owner
	}
	return typ
}

// externals reconciles every registered type: each provisioner gets the
// desired resources of its type (none is a valid answer: it still retires
// what it made). The provisioners are made once per Reconciler and kept, so
// that they may keep clients and what they learnt between runs.
// declaredKey carries, to the provisioners, the keys of the resources the
// sources still declare though they are rejected now: their repositories are
// not "no longer wanted" (a contested or broken file is not a removed one),
// so they are neither orphaned nor deleted.
type declaredKey struct{}

func declared(ctx context.Context) map[string]bool {
	m, _ := ctx.Value(declaredKey{}).(map[string]bool)
	return m
}

// RunInfo is what a run tells the provisioners besides the desired state:
// what running apps use (a lifecycle policy must not take it away) and
// what an auditor asks of each change (which policies and Git revision).
type RunInfo struct {
	// Images are the container images of the apps accepted or held, each
	// with the keys of the apps that run it.
	Images map[string][]string
	// PolicyRevision is the revision of the policies in force.
	PolicyRevision string
	// Revisions is the Git commit read of each source (none for local ones).
	Revisions map[string]string
}

type runInfoKey struct{}

// WithRunInfo gives the provisioners a run's RunInfo.
func WithRunInfo(ctx context.Context, info RunInfo) context.Context {
	return context.WithValue(ctx, runInfoKey{}, info)
}

func runInfo(ctx context.Context) RunInfo {
	info, _ := ctx.Value(runInfoKey{}).(RunInfo)
	return info
}

// infoOf reads a run's RunInfo from its result.
func infoOf(res *pipeline.Result) RunInfo {
	info := RunInfo{Revisions: map[string]string{}, Images: map[string][]string{}}
	if res == nil {
		return info
	}
	if res.Policies != nil {
		info.PolicyRevision = res.Policies.Revision
	}
	for _, l := range res.Sources {
		if l.Revision != "" {
			info.Revisions[l.Source.Name] = l.Revision
		}
	}
	for _, x := range res.Resources {
		spec, _ := x.Spec.(map[string]any)
		if img, _ := spec["container-image"].(string); x.Accepted && img != "" && x.Type != nil && x.Type.Name == "ShinyProxyApp" {
			img = strings.TrimSpace(img)
			info.Images[img] = append(info.Images[img], x.Key())
		}
	}
	return info
}

// stillDeclared lists the keys of the resources of a run that are rejected
// (not removed).
func stillDeclared(res *pipeline.Result) map[string]bool {
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

func (r *Reconciler) externals(ctx context.Context, desired []workflow.External, res *pipeline.Result) []ExternalChange {
	ctx = context.WithValue(ctx, declaredKey{}, stillDeclared(res))
	ctx = WithRunInfo(ctx, infoOf(res))
	provisionersMu.Lock()
	types := make([]string, 0, len(provisioners))
	for t := range provisioners {
		types = append(types, t)
	}
	provisionersMu.Unlock()
	sort.Strings(types)
	if r.provisioners == nil {
		r.provisioners = map[string]Provisioner{}
	}
	var out []ExternalChange
	for _, typ := range types {
		reg, ok := r.provisioners[typ]
		if !ok {
			opts := r.ExternalOptions
			if opts.Instance == "" {
				opts.Instance = r.Applier.instance()
			}
			opts.Store, opts.StoreNamespace = r.Status, r.StatusNamespace
			provisionersMu.Lock()
			reg = provisioners[typ](opts)
			provisionersMu.Unlock()
			r.provisioners[typ] = reg
		}
		var mine []workflow.External
		for _, d := range desired {
			if provisionerFor(d.Type) == typ {
				mine = append(mine, d)
			}
		}
		out = append(out, reg.Reconcile(ctx, mine, r.Applier.DryRun)...)
	}
	return out
}
