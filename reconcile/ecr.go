package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/laiki-platform/laiki/engine/workflow"
)

// Tags Laiki puts on the ECR repositories it manages, besides those the
// workflow renders (managed-by, resource, source, target).
const (
	TagManagedBy = "app.kubernetes.io/managed-by"
	TagInstance  = "laiki.io/instance"
	TagOnDelete  = "laiki.io/on-delete"
	TagOrphaned  = "laiki.io/orphaned"
	TagResource  = "laiki.io/resource"
	TagSource    = "laiki.io/source"
)

func init() {
	RegisterExternal("AwsEcrRepository", func(o ExternalOptions) Registry { return &Ecr{Instance: o.Instance, MaxBackoff: o.MaxBackoff} })
}

// EcrDesired is the desired state the AwsEcrRepository workflow renders.
type EcrDesired struct {
	Name          string `json:"repository-name"`
	Region        string `json:"region"`
	RegistryID    string `json:"registry-id"`
	TagMutability string `json:"image-tag-mutability"`
	Scanning      struct {
		ScanOnPush bool `json:"scan-on-push"`
	} `json:"image-scanning-configuration"`
	Encryption struct {
		Type   string `json:"encryption-type"`
		KMSKey string `json:"kms-key"`
	} `json:"encryption-configuration"`
	LifecyclePolicy  string            `json:"lifecycle-policy"`
	RepositoryPolicy string            `json:"repository-policy"`
	OnDelete         string            `json:"on-delete"`
	Tags             map[string]string `json:"tags"`
}

// Ecr makes AWS ECR repositories, with the AWS SDK. Credentials come from
// the SDK's default chain (environment, shared configuration, IRSA web
// identity), never from Laiki files; the endpoint is AWS's unless
// AWS_ENDPOINT_URL_ECR says otherwise (a VPC endpoint, a test server).
type Ecr struct {
	Instance string
	// MaxBackoff bounds the wait between two retries (default 20s).
	MaxBackoff time.Duration

	mu      sync.Mutex
	clients map[string]*ecr.Client // by region ("" is the SDK's default)
	// scopes: the regions and registries Laiki has made repositories in,
	// where it looks for repositories to retire.
	scopes map[ecrScope]bool
}

type ecrScope struct{ region, registry string }

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
	c := ecr.NewFromConfig(cfg)
	if e.clients == nil {
		e.clients = map[string]*ecr.Client{}
	}
	e.clients[region] = c
	return c, nil
}

// Reconcile implements Registry.
func (e *Ecr) Reconcile(ctx context.Context, desired []workflow.External, dryRun bool) []ExternalChange {
	var out []ExternalChange
	wanted := map[ecrScope]map[string]bool{}
	e.mu.Lock()
	if e.scopes == nil {
		e.scopes = map[ecrScope]bool{}
	}
	e.mu.Unlock()
	for _, x := range desired {
		c := ExternalChange{Type: x.Type, Name: x.Name, Resource: x.Resource}
		var d EcrDesired
		raw, err := json.Marshal(x.Desired)
		if err == nil {
			err = json.Unmarshal(raw, &d)
		}
		if err != nil {
			c.Op, c.Err = ExtFailed, fmt.Errorf("desired state: %w", err)
			out = append(out, c)
			continue
		}
		scope := ecrScope{d.Region, d.RegistryID}
		if wanted[scope] == nil {
			wanted[scope] = map[string]bool{}
		}
		wanted[scope][d.Name] = true
		e.mu.Lock()
		e.scopes[scope] = true
		e.mu.Unlock()
		c.Op, c.Details, c.Err = e.ensure(ctx, &d, dryRun)
		out = append(out, c)
	}
	e.mu.Lock()
	scopes := make([]ecrScope, 0, len(e.scopes))
	for s := range e.scopes {
		scopes = append(scopes, s)
	}
	e.mu.Unlock()
	sort.Slice(scopes, func(i, j int) bool { return scopes[i].region+scopes[i].registry < scopes[j].region+scopes[j].registry })
	for _, s := range scopes {
		out = append(out, e.retire(ctx, s, wanted[s], dryRun)...)
	}
	return out
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// describe finds one repository; nil when there is none.
func describe(ctx context.Context, c *ecr.Client, registry, name string) (*ecrtypes.Repository, error) {
	got, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: str(registry), RepositoryNames: []string{name}})
	var nf *ecrtypes.RepositoryNotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(got.Repositories) == 0 {
		return nil, nil
	}
	return &got.Repositories[0], nil
}

func (e *Ecr) tags(d *EcrDesired) map[string]string {
	tags := map[string]string{TagInstance: e.Instance, TagOnDelete: d.OnDelete}
	for k, v := range d.Tags {
		tags[k] = v
	}
	return tags
}

func tagList(m map[string]string) []ecrtypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ecrtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// ensure makes one repository match its desired state: created when
// missing; adopted (tagged as Laiki's) when it exists without Laiki's tags;
// and every setting that drifted set back. Nothing is written where nothing
// differs.
func (e *Ecr) ensure(ctx context.Context, d *EcrDesired, dryRun bool) (string, []string, error) {
	c, err := e.client(ctx, d.Region)
	if err != nil {
		return ExtFailed, nil, err
	}
	cur, err := describe(ctx, c, d.RegistryID, d.Name)
	if err != nil {
		return ExtFailed, nil, err
	}
	wantTags := e.tags(d)
	if cur == nil {
		details := []string{fmt.Sprintf("tag mutability %s, scan on push %v, encryption %s", d.TagMutability, d.Scanning.ScanOnPush, d.Encryption.Type)}
		if dryRun {
			return ExtCreated, details, nil
		}
		in := &ecr.CreateRepositoryInput{
			RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
			ImageTagMutability:         ecrtypes.ImageTagMutability(d.TagMutability),
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: d.Scanning.ScanOnPush},
			EncryptionConfiguration:    &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionType(d.Encryption.Type), KmsKey: str(d.Encryption.KMSKey)},
			Tags:                       tagList(wantTags),
		}
		if _, err := c.CreateRepository(ctx, in); err != nil {
			return ExtFailed, nil, err
		}
		policies, err := e.policies(ctx, c, d, false, dryRun)
		return ExtCreated, append(details, policies...), err
	}

	var details []string
	op := ExtUnchanged
	note := func(o, format string, args ...any) {
		details = append(details, fmt.Sprintf(format, args...))
		if op == ExtUnchanged {
			op = o
		}
	}
	have, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: cur.RepositoryArn})
	if err != nil {
		return ExtFailed, nil, err
	}
	haveTags := map[string]string{}
	for _, t := range have.Tags {
		haveTags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	// A repository Laiki made for one source (its images that source's) is
	// never handed to another, orphaned or not: the platform releases it
	// by removing its laiki.io/source tag.
	if owner := haveTags[TagSource]; haveTags[TagManagedBy] == "laiki" && owner != "" && owner != d.Tags[TagSource] {
		return ExtFailed, nil, fmt.Errorf("repository %s belongs to source %s (its tag %s), and is not handed to source %s; the platform releases it by removing that tag",
			d.Name, owner, TagSource, d.Tags[TagSource])
	}
	if haveTags[TagManagedBy] != "laiki" || haveTags[TagInstance] != e.Instance {
		note(ExtAdopted, "adopted: an existing repository is brought to the platform's settings")
	}
	if string(cur.ImageTagMutability) != d.TagMutability {
		note(ExtCorrected, "tag mutability %s set back to %s", cur.ImageTagMutability, d.TagMutability)
		if !dryRun {
			if _, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
				ImageTagMutability: ecrtypes.ImageTagMutability(d.TagMutability)}); err != nil {
				return ExtFailed, details, err
			}
		}
	}
	if scan := cur.ImageScanningConfiguration; scan == nil || scan.ScanOnPush != d.Scanning.ScanOnPush {
		note(ExtCorrected, "scan on push set back to %v", d.Scanning.ScanOnPush)
		if !dryRun {
			if _, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
				ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: d.Scanning.ScanOnPush}}); err != nil {
				return ExtFailed, details, err
			}
		}
	}
	policies, err := e.policies(ctx, c, d, true, dryRun)
	for _, p := range policies {
		note(ExtCorrected, "%s", p)
	}
	if err != nil {
		return ExtFailed, details, err
	}
	var tagDiff []ecrtypes.Tag
	for _, t := range tagList(wantTags) {
		if v, ok := haveTags[aws.ToString(t.Key)]; !ok || v != aws.ToString(t.Value) {
			tagDiff = append(tagDiff, t)
		}
	}
	_, orphaned := haveTags[TagOrphaned]
	if len(tagDiff) > 0 && op == ExtUnchanged {
		note(ExtCorrected, "tags set back")
	}
	if !dryRun && len(tagDiff) > 0 {
		if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: cur.RepositoryArn, Tags: tagDiff}); err != nil {
			return ExtFailed, details, err
		}
	}
	if orphaned {
		note(ExtCorrected, "wanted again: no longer orphaned")
		if !dryRun {
			if _, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: cur.RepositoryArn, TagKeys: []string{TagOrphaned}}); err != nil {
				return ExtFailed, details, err
			}
		}
	}
	// ECR cannot change a repository's encryption: a difference is
	// reported, and the repository is otherwise managed as usual.
	if enc := cur.EncryptionConfiguration; enc == nil || string(enc.EncryptionType) != d.Encryption.Type || aws.ToString(enc.KmsKey) != d.Encryption.KMSKey && d.Encryption.KMSKey != "" {
		got := "none"
		if enc != nil {
			got = string(enc.EncryptionType)
		}
		return ExtFailed, details, fmt.Errorf("encryption is %s and the platform asks for %s; ECR cannot change a repository's encryption: recreate it, or adopt another", got, d.Encryption.Type)
	}
	return op, details, nil
}

// policies sets the lifecycle and repository policies the platform gives;
// for an existing repository (exists) only those that differ. It returns
// what it changed.
func (e *Ecr) policies(ctx context.Context, c *ecr.Client, d *EcrDesired, exists, dryRun bool) ([]string, error) {
	name, registry := aws.String(d.Name), str(d.RegistryID)
	kinds := []struct {
		what, want string
		get        func() (*string, error) // nil text and no error when there is none
		put        func() error
	}{
		{"lifecycle policy", d.LifecyclePolicy,
			func() (*string, error) {
				got, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: name, RegistryId: registry})
				if nf := (*ecrtypes.LifecyclePolicyNotFoundException)(nil); errors.As(err, &nf) {
					return nil, nil
				} else if err != nil {
					return nil, err
				}
				return got.LifecyclePolicyText, nil
			},
			func() error {
				_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: name, RegistryId: registry, LifecyclePolicyText: aws.String(d.LifecyclePolicy)})
				return err
			}},
		{"repository policy", d.RepositoryPolicy,
			func() (*string, error) {
				got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name, RegistryId: registry})
				if nf := (*ecrtypes.RepositoryPolicyNotFoundException)(nil); errors.As(err, &nf) {
					return nil, nil
				} else if err != nil {
					return nil, err
				}
				return got.PolicyText, nil
			},
			func() error {
				_, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, RegistryId: registry, PolicyText: aws.String(d.RepositoryPolicy)})
				return err
			}},
	}
	var changed []string
	for _, k := range kinds {
		if k.want == "" {
			continue // the platform gives none: the repository's own stays
		}
		var current *string
		if exists {
			var err error
			if current, err = k.get(); err != nil {
				return changed, err
			}
		}
		if sameJSON(aws.ToString(current), k.want) {
			continue
		}
		changed = append(changed, k.what+" set")
		if !dryRun {
			if err := k.put(); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

// managed lists the repositories of a scope that this instance manages,
// with their tags.
func (e *Ecr) managed(ctx context.Context, s ecrScope) ([]ecrtypes.Repository, []map[string]string, error) {
	c, err := e.client(ctx, s.region)
	if err != nil {
		return nil, nil, err
	}
	var repos []ecrtypes.Repository
	var tags []map[string]string
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{RegistryId: str(s.registry)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range page.Repositories {
			got, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: r.RepositoryArn})
			if err != nil {
				return nil, nil, err
			}
			m := map[string]string{}
			for _, t := range got.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if m[TagManagedBy] == "laiki" && m[TagInstance] == e.Instance {
				repos = append(repos, r)
				tags = append(tags, m)
			}
		}
	}
	return repos, tags, nil
}

// retire handles the repositories this instance made in a scope that no
// resource wants any more, as their on-delete tag says: keep (tagged as
// orphaned, once), delete-if-empty (kept and tagged when it holds images),
// or force.
func (e *Ecr) retire(ctx context.Context, s ecrScope, wanted map[string]bool, dryRun bool) []ExternalChange {
	repos, tags, err := e.managed(ctx, s)
	if err != nil {
		return []ExternalChange{{Type: "AwsEcrRepository", Name: "*", Op: ExtFailed, Err: fmt.Errorf("listing the repositories of region %q: %w", s.region, err)}}
	}
	c, _ := e.client(ctx, s.region)
	var out []ExternalChange
	for i, r := range repos {
		name := aws.ToString(r.RepositoryName)
		if wanted[name] || declared(ctx)[tags[i][TagResource]] {
			continue // wanted, or its resource is still there (rejected now, or contested): not gone
		}
		ch := ExternalChange{Type: "AwsEcrRepository", Name: name, Op: ExtOrphaned}
		orphan := func(why string) {
			if _, done := tags[i][TagOrphaned]; done {
				ch.Op = ExtUnchanged
				return
			}
			ch.Details = append(ch.Details, why)
			if dryRun {
				return
			}
			_, ch.Err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: r.RepositoryArn,
				Tags: []ecrtypes.Tag{{Key: aws.String(TagOrphaned), Value: aws.String(time.Now().UTC().Format(time.RFC3339))}}})
		}
		switch tags[i][TagOnDelete] {
		case "delete-if-empty", "force":
			force := tags[i][TagOnDelete] == "force"
			ch.Op, ch.Details = ExtDeleted, []string{"its resource is gone and the platform deletes such repositories"}
			if dryRun {
				break
			}
			_, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: r.RepositoryName, RegistryId: str(s.registry), Force: force})
			var notEmpty *ecrtypes.RepositoryNotEmptyException
			switch {
			case errors.As(err, &notEmpty):
				ch.Op, ch.Details = ExtOrphaned, nil
				orphan("its resource is gone; it still holds images, so it is kept")
			case err != nil:
				ch.Err = err
			}
		default:
			orphan("its resource is gone; kept, since its images are evidence")
		}
		if ch.Err != nil {
			ch.Op = ExtFailed
		}
		out = append(out, ch)
	}
	return out
}

// EcrRecord is one managed repository as an auditor sees it: the settings
// in force, read from ECR when the report was made.
type EcrRecord struct {
	Name             string    `json:"name"`
	Region           string    `json:"region"`
	URI              string    `json:"uri"`
	TagMutability    string    `json:"imageTagMutability"`
	ScanOnPush       bool      `json:"scanOnPush"`
	Encryption       string    `json:"encryption"`
	KMSKey           string    `json:"kmsKey,omitempty"`
	LifecyclePolicy  bool      `json:"lifecyclePolicy"`
	RepositoryPolicy bool      `json:"repositoryPolicy"`
	Resource         string    `json:"resource,omitempty"`
	Source           string    `json:"source,omitempty"`
	Orphaned         string    `json:"orphaned,omitempty"`
	Compliant        bool      `json:"compliant"`
	VerifiedAt       time.Time `json:"verifiedAt"`
}

// Report reads every repository this instance manages in the scopes of the
// desired state (and those it has worked in) and says what is in force.
func (e *Ecr) Report(ctx context.Context, desired []workflow.External) ([]EcrRecord, error) {
	scopes := map[ecrScope]bool{}
	for _, x := range desired {
		var d EcrDesired
		raw, _ := json.Marshal(x.Desired)
		if json.Unmarshal(raw, &d) == nil && x.Type == "AwsEcrRepository" {
			scopes[ecrScope{d.Region, d.RegistryID}] = true
		}
	}
	e.mu.Lock()
	for s := range e.scopes {
		scopes[s] = true
	}
	e.mu.Unlock()
	var out []EcrRecord
	for s := range scopes {
		repos, tags, err := e.managed(ctx, s)
		if err != nil {
			return nil, err
		}
		c, _ := e.client(ctx, s.region)
		for i, r := range repos {
			rec := EcrRecord{Name: aws.ToString(r.RepositoryName), Region: c.Options().Region, URI: aws.ToString(r.RepositoryUri),
				TagMutability: string(r.ImageTagMutability), Resource: tags[i][TagResource], Source: tags[i][TagSource],
				Orphaned: tags[i][TagOrphaned], VerifiedAt: time.Now().UTC().Truncate(time.Second)}
			if r.ImageScanningConfiguration != nil {
				rec.ScanOnPush = r.ImageScanningConfiguration.ScanOnPush
			}
			if r.EncryptionConfiguration != nil {
				rec.Encryption, rec.KMSKey = string(r.EncryptionConfiguration.EncryptionType), aws.ToString(r.EncryptionConfiguration.KmsKey)
			}
			if _, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: r.RepositoryName, RegistryId: str(s.registry)}); err == nil {
				rec.LifecyclePolicy = true
			}
			if _, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: r.RepositoryName, RegistryId: str(s.registry)}); err == nil {
				rec.RepositoryPolicy = true
			}
			rec.Compliant = rec.TagMutability == string(ecrtypes.ImageTagMutabilityImmutable) && rec.ScanOnPush && rec.Encryption != ""
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region+"/"+out[i].Name < out[j].Region+"/"+out[j].Name })
	return out, nil
}
