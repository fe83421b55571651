package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/version"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// The ECR registry, in steps: ecr_records.go keeps what Laiki made and
// adopted (the ConfigMap <instance>-ecr), ecr_run.go is one run in one
// registry, ecr_listing.go reads a registry (one listing a run),
// ecr_claim.go decides whether an existing repository
// may become Laiki's, ecr_ensure.go creates and corrects, ecr_lifecycle.go
// previews a lifecycle policy against the images apps run, ecr_retire.go
// handles the repositories no resource wants, ecr_template.go the
// repository creation templates, and ecr_report.go is the evidence.

// Tags Laiki puts on the ECR repositories it manages, besides those the
// workflow renders (managed-by, resource, source, target).
const (
	TagManagedBy = kube.LabelManagedBy
	TagInstance  = kube.LabelInstance
	TagOnDelete  = "laiki.io/on-delete"
	TagOrphaned  = "laiki.io/orphaned"
	TagResource  = kube.LabelResource
	TagSource    = kube.LabelSource
	TagAdopted   = "laiki.io/adopted"
)

// The external types the ECR registry takes.
const (
	typeEcrRepository = "AwsEcrRepository"
	typeEcrTemplate   = "AwsEcrRepositoryCreationTemplate"
)

func init() {
	RegisterProvisioner(typeEcrRepository, func(o ExternalOptions) Provisioner {
		return &Ecr{Instance: o.Instance, MaxBackoff: o.MaxBackoff, CallTimeout: o.CallTimeout, DriftInterval: o.DriftInterval,
			Store: o.Store, Namespace: o.StoreNamespace}
	}, typeEcrTemplate)
}

// EcrDesired is the desired state the AwsEcrRepository workflow renders
// (its Go type is the workflow's), with where it comes from.
type EcrDesired struct {
	workflow.EcrRepository

	// Where it comes from (the External's): for the records.
	Resource string `json:"-"`
	Source   string `json:"-"`
	File     string `json:"-"`
}

// fingerprint is a digest of everything Laiki sets on the repository: a
// run with the same one and nothing visible in the listing has nothing to
// apply until the drift check is due.
func (d *EcrDesired) fingerprint() string {
	return digest(d.TagMutability, d.Exclusions, d.Scanning.ScanOnPush, d.Encryption, d.LifecyclePolicy, d.RepositoryPolicy, d.OnDelete, d.Tags,
		d.Adopt, d.AdoptRequested, d.DeleteAdopted, d.Source)
}

// digest is a short SHA-256 of values, for fingerprints.
func digest(values ...any) string {
	raw, _ := json.Marshal(values)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:12])
}

// decode reads an External's desired state into v.
func decode(x workflow.External, v any) error { return workflow.DecodeExternal(x, v) }

// Ecr makes AWS ECR repositories, with the AWS SDK. Credentials come from
// the SDK's default chain (environment, shared configuration, IRSA web
// identity), never from Laiki files; the endpoint is AWS's unless
// AWS_ENDPOINT_URL_ECR says otherwise (a VPC endpoint, a test server).
type Ecr struct {
	Instance string
	// MaxBackoff bounds the wait between two retries (default 20s).
	MaxBackoff time.Duration
	// CallTimeout bounds each call, its retries included (default 2m).
	CallTimeout time.Duration
	// DriftInterval is how often everything is read and compared (default
	// 10m); between two, a run reads one listing per registry.
	DriftInterval time.Duration
	// Store and Namespace keep the records (ConfigMap <instance>-ecr); nil
	// keeps them for the life of the process, and then no repository is
	// ever deleted (nothing tells one Laiki made from one tagged as if).
	Store     client.Client
	Namespace string
	// Progress, when set, is told what a long read is doing (the report on
	// a terminal).
	Progress func(string)
	// Now is the clock (tests move it); nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	clients map[string]*ecr.Client // by region asked for ("" is the SDK's default)
	// memory is the records as last saved (or, without a Store, as the
	// last run left them).
	memory *ecrMemory
}

func (e *Ecr) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Ecr) driftInterval() time.Duration {
	if e.DriftInterval <= 0 {
		return 10 * time.Minute
	}
	return e.DriftInterval
}

func (e *Ecr) say(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(fmt.Sprintf(format, args...))
	}
}

// retryer is the SDK's standard retryer, tuned for a reconcile that can
// wait: more attempts, a longer backoff, and no client-side retry quota, so
// that a throttling storm is waited out rather than given up on.
func (e *Ecr) retryer() aws.Retryer {
	max := e.MaxBackoff
	if max <= 0 {
		max = 20 * time.Second
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.MaxBackoff = max
		o.Backoff = retry.NewExponentialJitterBackoff(max)
		o.RateLimiter = ratelimit.None
	})
}

// bounded puts a deadline on every call, retries included: an endpoint
// that never answers (a wrong VPC endpoint, a firewall) fails the call
// within it instead of holding the run through ten backoffs.
func (e *Ecr) bounded(stack *middleware.Stack) error {
	limit := e.CallTimeout
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("LaikiCallTimeout",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			ctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("no answer from ECR within %s: %w", limit, err)
			}
			return out, md, err
		}), middleware.Before)
}

func (e *Ecr) client(ctx context.Context, region string) (*ecr.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.clients[region]; ok {
		return c, nil
	}
	opts := []func(*config.LoadOptions) error{config.WithRetryer(e.retryer)}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set laiki-ecr.region on the target, or AWS_REGION")
	}
	c := ecr.NewFromConfig(cfg, ecr.WithAPIOptions(e.bounded))
	if e.clients == nil {
		e.clients = map[string]*ecr.Client{}
	}
	e.clients[region] = c
	return c, nil
}

// ecrScope is one registry in one region (the region named, never the
// SDK's default: records must mean the same after AWS_REGION changes).
type ecrScope struct{ Region, Registry string }

func (s ecrScope) key() string { return s.Region + "/" + s.Registry }

// scopeOf resolves the region a desired state names ("" is the SDK's
// default) to the region its client uses.
func (e *Ecr) scopeOf(ctx context.Context, region, registry string) (ecrScope, *ecr.Client, error) {
	c, err := e.client(ctx, region)
	if err != nil {
		return ecrScope{}, nil, err
	}
	return ecrScope{c.Options().Region, registry}, c, nil
}

// wanted is what one run asks of one registry.
type wanted struct {
	scope     ecrScope
	c         *ecr.Client
	repos     []*EcrDesired
	templates []*EcrTemplateDesired
}

// Reconcile implements Provisioner: per registry, one listing; each desired
// repository created, claimed (adopted only where the platform allows) or
// corrected; the creation templates kept; and the repositories Laiki made
// that no resource wants retired, as recorded in the cluster so that a
// restart forgets none.
func (e *Ecr) Reconcile(ctx context.Context, desired []workflow.External, dryRun bool) []ExternalChange {
	mem, err := e.load(ctx)
	if err != nil {
		return []ExternalChange{{Type: typeEcrRepository, Name: "*", Op: ExtFailed, Err: err}}
	}
	scopes, out := e.group(ctx, desired)
	for _, s := range mem.scopes() {
		if _, ok := scopes[s.key()]; !ok {
			_, c, err := e.scopeOf(ctx, s.Region, s.Registry)
			if err != nil {
				out = append(out, ExternalChange{Type: typeEcrRepository, Name: "*", Op: ExtFailed, Err: err})
				continue
			}
			scopes[s.key()] = &wanted{scope: s, c: c}
		}
	}
	keys := slices.Sorted(maps.Keys(scopes))
	info := runInfo(ctx)
	for _, k := range keys {
		run := &ecrRun{e: e, c: scopes[k].c, scope: scopes[k].scope, mem: mem, dryRun: dryRun, now: e.now(), info: info, declared: declared(ctx)}
		out = append(out, run.reconcile(ctx, scopes[k])...)
	}
	if !dryRun {
		if err := e.save(ctx, mem); err != nil {
			out = append(out, ExternalChange{Type: typeEcrRepository, Name: "*", Op: ExtFailed,
				Err: fmt.Errorf("keeping the records of the repositories Laiki made (ConfigMap %s): %w", e.recordsName(), err)})
		}
	}
	return out
}

// group sorts the desired state by registry.
func (e *Ecr) group(ctx context.Context, desired []workflow.External) (map[string]*wanted, []ExternalChange) {
	scopes := map[string]*wanted{}
	var out []ExternalChange
	at := func(region, registry string) (*wanted, error) {
		s, c, err := e.scopeOf(ctx, region, registry)
		if err != nil {
			return nil, err
		}
		if scopes[s.key()] == nil {
			scopes[s.key()] = &wanted{scope: s, c: c}
		}
		return scopes[s.key()], nil
	}
	for _, x := range desired {
		fail := func(err error) {
			out = append(out, ExternalChange{Type: x.Type, Name: x.Name, Resource: x.Resource, Op: ExtFailed, Err: err})
		}
		if x.Type == typeEcrTemplate {
			t := &EcrTemplateDesired{}
			if err := decode(x, t); err != nil {
				fail(err)
				continue
			}
			w, err := at(t.Region, t.RegistryID)
			if err != nil {
				fail(err)
				continue
			}
			w.templates = append(w.templates, t)
			continue
		}
		d := &EcrDesired{Resource: x.Resource, Source: x.Source, File: x.File}
		if err := decode(x, d); err != nil {
			fail(err)
			continue
		}
		w, err := at(d.Region, d.RegistryID)
		if err != nil {
			fail(err)
			continue
		}
		w.repos = append(w.repos, d)
	}
	return scopes, out
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

// laikiVersion is who did it, for the records.
func laikiVersion() string { return "laiki " + version.String() }
