package workflow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
)

// ecrName is the repository name pattern of ECR's API reference
// (CreateRepository): path segments of lower case letters and digits,
// joined inside a segment by ".", "_", "__" or dashes.
var ecrName = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// EcrSettingsKey is the key of a ShinyProxy target's spec that holds the
// platform's ECR settings.
const EcrSettingsKey = "laiki-ecr"

// AwsEcrRepository: an image repository in AWS ECR for one app. The user
// chooses only the name (and may ask to adopt an existing repository where
// the platform allows it); tag immutability, scanning and encryption are
// the platform's and cannot be loosened from a team file.
func init() {
	s := schema.FromGoType("AwsEcrRepository", reflect.TypeOf(v1alpha1.AwsEcrRepositorySpec{}), finding.Error)
	s.Fields["name"] = schema.WithCheck(s.Fields["name"], func(v any) string { return CheckEcrNamePart(v.(string)) })
	types.RegisterResource(&types.ResourceType{
		Name:        "AwsEcrRepository",
		Kind:        "AwsEcrRepository",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "name",
		Schema:      s,
		// The platform's settings for every repository of a ShinyProxy
		// target's apps (v1alpha1.EcrSettings).
		Settings:      EcrSettingsKey,
		CheckSettings: checkEcrSettings,
	})
	// Its workflow.
	Register(&Workflow{Name: "AwsEcrRepositoryWorkflow", TargetType: "ShinyProxy", Render: renderEcr,
		Renders: "AwsEcrRepository", Renames: map[string]string{"repository-name": "name", "adopt-requested": "adopt"},
		Explain: explainEcr})
}

// CheckEcrName says what is wrong with a whole ECR repository name, by
// ECR's own rules, or "" when nothing is: names are checked before any
// call to AWS.
func CheckEcrName(s string) string {
	if len(s) < 2 || len(s) > 256 {
		return fmt.Sprintf("an ECR repository name has 2 to 256 characters, %q has %d", s, len(s))
	}
	return ecrPattern(s)
}

// CheckEcrNamePart checks the name a resource gives, which the platform's
// name prefix may lengthen: one character is enough (team-a/b is a valid
// repository), and the whole name is checked again with its prefix.
func CheckEcrNamePart(s string) string {
	if len(s) < 1 || len(s) > 256 {
		return fmt.Sprintf("an ECR repository name has 1 to 256 characters after the platform's prefix, %q has %d", s, len(s))
	}
	return ecrPattern(s)
}

func ecrPattern(s string) string {
	if !ecrName.MatchString(s) {
		return fmt.Sprintf("%q is not a valid ECR repository name (lower case letters and digits, joined by ., _, __ or dashes, in parts separated by /, each part starting and ending with a letter or digit)", s)
	}
	return ""
}

// checkEcrSettings checks the platform's laiki-ecr as ECR and Laiki will read
// it, so that a wrong value is an error at its line rather than a failure
// in AWS on every run.
func checkEcrSettings(v any) []schema.Problem {
	ecr, _ := v.(map[string]any)
	if ecr == nil {
		return nil
	}
	var ps []schema.Problem
	for key, allowed := range map[string][]string{
		"on-delete":        {"keep", "delete-if-empty", "force"},
		"adopt":            {"never", "on-request", "untagged", "always"},
		"tag-mutability":   {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"},
		"lifecycle-action": {"expire", "archive"},
	} {
		if v, ok := ecr[key].(string); ok && !slices.Contains(allowed, v) {
			ps = append(ps, schema.Problem{Path: []string{key}, Severity: finding.Error,
				Message: fmt.Sprintf("%s is %s, not %q", key, strings.Join(allowed, ", "), v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Path[0] < ps[j].Path[0] })
	ps = append(ps, ecrExclusions(ecr)...)
	return append(ps, ecrCreationTemplate(ecr)...)
}

// ecrExclusion is the pattern of an ECR tag mutability exclusion filter
// (API reference, ImageTagMutabilityExclusionFilter).
var ecrExclusion = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// ecrExclusions: IMMUTABLE_WITH_EXCLUSION names 1 to 5 wildcard filters
// ECR takes, and none that makes every tag mutable (*, **): the platform
// may loosen immutability for a few tags, never switch it off.
func ecrExclusions(ecr map[string]any) []schema.Problem {
	mode, _ := ecr["tag-mutability"].(string)
	list, _ := ecr["tag-mutability-exclusions"].([]any)
	at := func(i int) []string { return []string{"tag-mutability-exclusions", strconv.Itoa(i)} }
	switch {
	case mode == "IMMUTABLE_WITH_EXCLUSION" && len(list) == 0:
		return []schema.Problem{{Path: []string{"tag-mutability"}, Severity: finding.Error,
			Message: "IMMUTABLE_WITH_EXCLUSION needs tag-mutability-exclusions: the wildcards of the tags that may be overwritten (e.g. [dev-*])"}}
	case mode != "IMMUTABLE_WITH_EXCLUSION" && len(list) > 0:
		return []schema.Problem{{Path: []string{"tag-mutability-exclusions"}, Severity: finding.Error,
			Message: "tag-mutability-exclusions are for tag-mutability: IMMUTABLE_WITH_EXCLUSION; without it every tag is immutable"}}
	case len(list) > 5:
		return []schema.Problem{{Path: at(5), Severity: finding.Error, Message: "ECR takes at most 5 tag mutability exclusion filters"}}
	}
	var ps []schema.Problem
	for i, v := range list {
		f, _ := v.(string)
		switch {
		case !ecrExclusion.MatchString(f):
			ps = append(ps, schema.Problem{Path: at(i), Severity: finding.Error,
				Message: fmt.Sprintf("%q is not an ECR exclusion filter: 1 to 128 letters, digits, ., _, - and the wildcard *", f)})
		case strings.Trim(f, "*") == "":
			ps = append(ps, schema.Problem{Path: at(i), Severity: finding.Error,
				Message: fmt.Sprintf("%q would make every tag mutable: name the tags that may move (dev-*, latest)", f)})
		}
	}
	return ps
}

// ecrCreationTemplate: a creation template is for the platform's name
// prefix; without one it would be ECR's ROOT template, every repository of
// the registry's.
func ecrCreationTemplate(ecr map[string]any) []schema.Problem {
	list, _ := ecr["creation-template"].([]any)
	if len(list) == 0 {
		return nil
	}
	var ps []schema.Problem
	if p, _ := ecr["name-prefix"].(string); strings.Trim(p, "/") == "" {
		ps = append(ps, schema.Problem{Path: []string{"creation-template"}, Severity: finding.Error,
			Message: "a creation template is for the repositories under the target's name-prefix: set name-prefix (e.g. team-a/)"})
	}
	for i, v := range list {
		if s, _ := v.(string); !slices.Contains([]string{"CREATE_ON_PUSH", "REPLICATION", "PULL_THROUGH_CACHE"}, s) {
			ps = append(ps, schema.Problem{Path: []string{"creation-template", strconv.Itoa(i)}, Severity: finding.Error,
				Message: fmt.Sprintf("a creation template applies to CREATE_ON_PUSH, REPLICATION or PULL_THROUGH_CACHE, not %q", s)})
		}
	}
	return ps
}

// explainEcr: every value of a repository is the platform's (its target's
// laiki-ecr) but the name the team wrote, which the platform's prefix may
// lengthen.
func explainEcr(r *pipeline.Resource, field []string, _ any) string {
	if r.Doc.Type != "AwsEcrRepository" {
		return ""
	}
	if len(field) == 1 && field[0] == "name" {
		return "the platform's name-prefix before the name at " + r.Doc.PosOf(document.KeySpec, "name").String()
	}
	return "a platform setting"
}

// renderEcr lists the desired state of every AwsEcrRepository bound to the
// target, and of the target's repository creation template. The settings
// are the platform's (the target's laiki-ecr): a team file chooses only the
// name, and asks to adopt an existing repository where the platform allows
// it, so tag immutability, scanning and encryption cannot be forgotten or
// loosened. Making them in AWS is the apply step's work (reconcile/ecr*.go).
func renderEcr(c *Context, t *document.Document, _ *Target, d *Desired) []finding.Finding {
	spec, _ := t.Spec.(map[string]any)
	settings, _ := spec["laiki-ecr"].(map[string]any)
	e := ecrSettings{settings}
	var fs []finding.Finding
	for _, r := range c.Bound(t, "AwsEcrRepository") {
		if f, ok := e.refused(r.Doc, r.Spec); ok {
			f.Resource = r.Key()
			fs = append(fs, f)
			continue
		}
		own, _ := r.Spec.(map[string]any)
		requested, _ := own["adopt"].(bool)
		desired := e.repository(joinPrefix(e.str("name-prefix"), r.ID), requested, map[string]string{
			kube.LabelManagedBy: kube.ManagedByLaiki,
			kube.LabelResource:  r.Key(),
			kube.LabelSource:    r.Doc.Source.Name,
			kube.LabelTarget:    t.Namespace + "/" + t.Name,
		})
		d.External = append(d.External, External{
			Type: "AwsEcrRepository", Name: joinPrefix(e.str("name-prefix"), r.ID), TargetName: t.Name, TargetNamespace: t.Namespace,
			Source: r.Doc.Source.Name, File: r.Doc.File, Resource: r.Key(), Desired: Ordered{desired.node()},
			// One name is one repository in a registry and region, whichever
			// target and prefix made it.
			Scope: e.str("region") + "/" + e.str("registry-id"),
		})
	}
	if x, ok := e.template(t); ok {
		d.External = append(d.External, x)
	}
	return fs
}

// ecrSettings reads a target's laiki-ecr.
type ecrSettings struct{ m map[string]any }

func (e ecrSettings) str(k string) string { s, _ := e.m[k].(string); return s }

func (e ecrSettings) list(k string) []string {
	var out []string
	l, _ := e.m[k].([]any)
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// refused is the error on a resource that cannot be rendered: a name the
// platform's prefix makes invalid (checked again with it, before anything
// is asked of AWS), or an adoption the platform does not allow.
func (e ecrSettings) refused(doc *document.Document, spec any) (finding.Finding, bool) {
	own, _ := spec.(map[string]any)
	name, _ := own["name"].(string)
	if problem := CheckEcrName(joinPrefix(e.str("name-prefix"), name)); problem != "" {
		return errorAt(doc, "laiki-spec.name", CheckWorkflow, "with the platform's name prefix %q: %s", e.str("name-prefix"), problem), true
	}
	if requested, _ := own["adopt"].(bool); requested && orDefault(e.str("adopt"), "never") == "never" {
		return errorAt(doc, "laiki-spec.adopt", CheckWorkflow, "the platform adopts no existing repository (laiki-ecr.adopt is never on the target): remove adopt, or ask the platform to set laiki-ecr.adopt to on-request"), true
	}
	return finding.Finding{}, false
}

func (e ecrSettings) encryption() EcrEncryption {
	if key := e.str("kms-key"); key != "" {
		return EcrEncryption{Type: "KMS", KMSKey: key}
	}
	return EcrEncryption{Type: "AES256"}
}

// mutability is what ECR calls imageTagMutability, and its exclusion
// filters (under IMMUTABLE_WITH_EXCLUSION only).
func (e ecrSettings) mutability() (string, []string) {
	if e.str("tag-mutability") == "IMMUTABLE_WITH_EXCLUSION" {
		return "IMMUTABLE_WITH_EXCLUSION", e.list("tag-mutability-exclusions")
	}
	return "IMMUTABLE", nil
}

// repository is one repository's desired state. Settings the platform
// leaves out stay out (the SDK's default region, the caller's account, no
// policy).
func (e ecrSettings) repository(name string, adoptRequested bool, tags map[string]string) *EcrRepository {
	mode, exclusions := e.mutability()
	return &EcrRepository{
		Name:             name,
		Region:           e.str("region"),
		RegistryID:       e.str("registry-id"),
		NamePrefix:       e.str("name-prefix"),
		TagMutability:    mode,
		Exclusions:       exclusions,
		Scanning:         EcrScanning{ScanOnPush: true},
		Encryption:       e.encryption(),
		LifecyclePolicy:  policyText(lifecycle(e.m["lifecycle-policy"], e.str("lifecycle-action"))),
		RepositoryPolicy: policyText(e.m["repository-policy"]),
		OnDelete:         orDefault(e.str("on-delete"), "keep"),
		Adopt:            orDefault(e.str("adopt"), "never"),
		AdoptRequested:   adoptRequested,
		DeleteAdopted:    e.m["delete-adopted"] == true,
		Tags:             tags,
	}
}

// template is the target's repository creation template, when its
// laiki-ecr asks for one: the same settings, for the repositories ECR makes
// itself under the name prefix.
func (e ecrSettings) template(t *document.Document) (External, bool) {
	prefix := strings.Trim(e.str("name-prefix"), "/")
	applied := e.list("creation-template")
	if prefix == "" || len(applied) == 0 {
		return External{}, false
	}
	mode, exclusions := e.mutability()
	desired := &EcrCreationTemplate{
		Prefix:           prefix,
		Region:           e.str("region"),
		RegistryID:       e.str("registry-id"),
		AppliedFor:       applied,
		CustomRoleArn:    e.str("creation-template-role"),
		TagMutability:    mode,
		Exclusions:       exclusions,
		Encryption:       e.encryption(),
		LifecyclePolicy:  policyText(lifecycle(e.m["lifecycle-policy"], e.str("lifecycle-action"))),
		RepositoryPolicy: policyText(e.m["repository-policy"]),
		Target:           t.Namespace + "/" + t.Name,
	}
	return External{Type: "AwsEcrRepositoryCreationTemplate", Name: prefix, TargetName: t.Name, TargetNamespace: t.Namespace,
		Source: t.Source.Name, File: t.File, Desired: Ordered{desired.node()},
		// Two targets naming one prefix are told apart by the registry,
		// which refuses both: each keeps its own entry here.
		Scope: e.str("region") + "/" + e.str("registry-id") + "/" + t.Namespace + "/" + t.Name,
	}, true
}

// lifecycle is the platform's lifecycle policy with its action: under
// archive, each rule that would expire images moves them to ECR's archive
// storage class instead (they can be restored; expired images cannot).
func lifecycle(policy any, action string) any {
	if action != "archive" || policy == nil {
		return policy
	}
	raw, err := json.Marshal(policy)
	if err != nil {
		return policy
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return policy
	}
	rules, _ := doc["rules"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		if a, _ := rule["action"].(map[string]any); a != nil && a["type"] == "expire" {
			rule["action"] = map[string]any{"type": "transition", "targetStorageClass": "archive"}
		}
	}
	return doc
}

// policyText is a policy document as the ECR API takes it: JSON text, with
// its keys in a stable order (empty when there is none).
func policyText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// joinPrefix joins the platform's name prefix and a name as path segments:
// team-a and team-a/ both give team-a/NAME.
func joinPrefix(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return strings.TrimSuffix(prefix, "/") + "/" + name
}

// The desired state of the AwsEcrRepository workflow's externals, one Go
// type each, shared with the provisioner that makes them in AWS
// (reconcile/ecr*.go reads them back with DecodeExternal): the keys below
// are the rendered ones, which `laiki render` shows and the provisioner
// reads, so the two cannot drift apart.

// EcrRepository is the desired state of one ECR repository.
type EcrRepository struct {
	Name             string            `json:"repository-name"`
	Region           string            `json:"region"`
	RegistryID       string            `json:"registry-id"`
	NamePrefix       string            `json:"name-prefix"`
	TagMutability    string            `json:"image-tag-mutability"`
	Exclusions       []string          `json:"image-tag-mutability-exclusion-filters"`
	Scanning         EcrScanning       `json:"image-scanning-configuration"`
	Encryption       EcrEncryption     `json:"encryption-configuration"`
	LifecyclePolicy  string            `json:"lifecycle-policy"`
	RepositoryPolicy string            `json:"repository-policy"`
	OnDelete         string            `json:"on-delete"`
	Adopt            string            `json:"adopt"`
	AdoptRequested   bool              `json:"adopt-requested"`
	DeleteAdopted    bool              `json:"delete-adopted"`
	Tags             map[string]string `json:"tags"`
}

// EcrScanning is a repository's image scanning configuration.
type EcrScanning struct {
	ScanOnPush bool `json:"scan-on-push"`
}

// EcrEncryption is a repository's (or template's) encryption: AES256, or
// KMS with a key.
type EcrEncryption struct {
	Type   string `json:"encryption-type"`
	KMSKey string `json:"kms-key"`
}

// EcrCreationTemplate is the desired state of a target's repository
// creation template.
type EcrCreationTemplate struct {
	Prefix           string        `json:"prefix"`
	Region           string        `json:"region"`
	RegistryID       string        `json:"registry-id"`
	AppliedFor       []string      `json:"applied-for"`
	CustomRoleArn    string        `json:"custom-role-arn"`
	TagMutability    string        `json:"image-tag-mutability"`
	Exclusions       []string      `json:"image-tag-mutability-exclusion-filters"`
	Encryption       EcrEncryption `json:"encryption-configuration"`
	LifecyclePolicy  string        `json:"lifecycle-policy"`
	RepositoryPolicy string        `json:"repository-policy"`
	Target           string        `json:"target"`
}

func (r *EcrRepository) node() *yaml.Node       { return presentNode(reflect.ValueOf(*r)) }
func (t *EcrCreationTemplate) node() *yaml.Node { return presentNode(reflect.ValueOf(*t)) }
