package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/laiki-platform/laiki/engine/workflow"
)

// Repository creation templates: the backstop for the repositories ECR
// makes itself under a platform's name prefix (create on push,
// replication, pull-through cache), which would otherwise come up MUTABLE
// and unencrypted by the platform's key. Laiki makes the template with the
// platform's settings, keeps it in line, and deletes it when the platform
// drops it. (Scanning is the registry's, not the template's.)

// TagTemplate marks the repositories ECR made from a Laiki template: they
// are not Laiki's (no resource asks for them), and the report lists them.
const TagTemplate = "laiki.io/creation-template"

// EcrTemplateDesired is the desired state of a creation template, as the
// workflow renders it.
type EcrTemplateDesired = workflow.EcrCreationTemplate

func templateFingerprint(t *EcrTemplateDesired) string {
	return digest(t.AppliedFor, t.CustomRoleArn, t.TagMutability, t.Exclusions, t.Encryption, t.LifecyclePolicy, t.RepositoryPolicy, t.Target)
}

// ecrTemplateRecord is a template Laiki made.
type ecrTemplateRecord struct {
	Prefix   string    `json:"prefix"`
	Region   string    `json:"region"`
	Registry string    `json:"registry,omitempty"`
	Target   string    `json:"target,omitempty"`
	Applied  string    `json:"applied,omitempty"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

func (r *ecrRun) description(t *EcrTemplateDesired) string {
	return fmt.Sprintf("Laiki %s: the settings of target %s for repositories ECR makes under %s/", r.e.Instance, t.Target, t.Prefix)
}

// templates keeps the desired creation templates of a registry, and
// deletes those Laiki made that no target asks for any more.
func (r *ecrRun) templates(ctx context.Context, desired []*EcrTemplateDesired) []ExternalChange {
	byPrefix := map[string][]*EcrTemplateDesired{}
	for _, t := range desired {
		byPrefix[t.Prefix] = append(byPrefix[t.Prefix], t)
	}
	prefixes := slices.Sorted(maps.Keys(byPrefix))
	var out []ExternalChange
	for _, p := range prefixes {
		if ts := byPrefix[p]; len(ts) > 1 {
			out = append(out, r.conflict(ts))
			continue
		}
		out = append(out, r.template(ctx, byPrefix[p][0]))
	}
	return append(out, r.retireTemplates(ctx, byPrefix)...)
}

// conflict: two targets give the same prefix in one registry, and a
// prefix has one template; neither is made.
func (r *ecrRun) conflict(ts []*EcrTemplateDesired) ExternalChange {
	var targets []string
	for _, t := range ts {
		targets = append(targets, t.Target)
	}
	return ExternalChange{Type: typeEcrTemplate, Name: ts[0].Prefix, Op: ExtFailed, Terminal: true,
		Err: fmt.Errorf("targets %s all ask for the creation template of prefix %s/ in this registry, which has one per prefix: give one of them creation-template", strings.Join(targets, ", "), ts[0].Prefix)}
}

func (r *ecrRun) template(ctx context.Context, t *EcrTemplateDesired) ExternalChange {
	ch := ExternalChange{Type: typeEcrTemplate, Name: t.Prefix + "/", Op: ExtUnchanged}
	key := recordKey(r.scope, t.Prefix)
	rec := r.mem.Templates[key]
	if rec != nil && rec.Applied == templateFingerprint(t) && !r.full {
		return ch
	}
	got, err := r.c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{t.Prefix}})
	if err != nil {
		ch.Op, ch.Err = ExtFailed, err
		return ch
	}
	var cur *ecrtypes.RepositoryCreationTemplate
	for i := range got.RepositoryCreationTemplates {
		if strings.TrimSuffix(aws.ToString(got.RepositoryCreationTemplates[i].Prefix), "/") == t.Prefix {
			cur = &got.RepositoryCreationTemplates[i]
		}
	}
	switch {
	case cur == nil:
		r.createTemplate(ctx, &ch, t)
	case rec == nil && !(r.mem.fresh && strings.HasPrefix(aws.ToString(cur.Description), "Laiki "+r.e.Instance+":")):
		ch.Op, ch.Terminal = ExtFailed, true
		ch.Err = fmt.Errorf("a repository creation template for prefix %s/ exists, made outside Laiki (%q); Laiki leaves it as it is: delete it to have the platform's, or take creation-template off target %s", t.Prefix, aws.ToString(cur.Description), t.Target)
		return ch
	default:
		r.updateTemplate(ctx, &ch, t, cur)
	}
	if ch.Err != nil {
		ch.Op = ExtFailed
		return ch
	}
	if !r.dryRun {
		if rec == nil {
			rec = &ecrTemplateRecord{Prefix: t.Prefix, Region: r.scope.Region, Registry: r.scope.Registry, At: r.now, By: laikiVersion()}
			r.mem.Templates[key] = rec
		}
		rec.Applied, rec.Target = templateFingerprint(t), t.Target
	}
	return ch
}

func (r *ecrRun) templateTags() []ecrtypes.Tag {
	return tagList(map[string]string{TagTemplate: r.e.Instance})
}

func appliedFor(list []string) []ecrtypes.RCTAppliedFor {
	var out []ecrtypes.RCTAppliedFor
	for _, a := range list {
		out = append(out, ecrtypes.RCTAppliedFor(a))
	}
	return out
}

func (r *ecrRun) createTemplate(ctx context.Context, ch *ExternalChange, t *EcrTemplateDesired) {
	ch.Op, ch.Details = ExtCreated, []string{fmt.Sprintf("for %s (tag mutability %s, encryption %s)", strings.Join(t.AppliedFor, ", "), mutabilityText(t.TagMutability, t.Exclusions), t.Encryption.Type)}
	if r.dryRun {
		return
	}
	_, ch.Err = r.c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String(t.Prefix), AppliedFor: appliedFor(t.AppliedFor), Description: aws.String(r.description(t)), CustomRoleArn: str(t.CustomRoleArn),
		ImageTagMutability: ecrtypes.ImageTagMutability(t.TagMutability), ImageTagMutabilityExclusionFilters: exclusionFilters(t.Exclusions),
		EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionType(t.Encryption.Type), KmsKey: str(t.Encryption.KMSKey)},
		LifecyclePolicy:         str(t.LifecyclePolicy), RepositoryPolicy: str(t.RepositoryPolicy), ResourceTags: r.templateTags(),
	})
}

// templateDrift says what differs between a template and the platform's.
func (r *ecrRun) templateDrift(t *EcrTemplateDesired, cur *ecrtypes.RepositoryCreationTemplate) []string {
	var diff []string
	var have []string
	for _, a := range cur.AppliedFor {
		have = append(have, string(a))
	}
	var haveEx []string
	for _, f := range cur.ImageTagMutabilityExclusionFilters {
		haveEx = append(haveEx, aws.ToString(f.Filter))
	}
	enc, key := "", ""
	if cur.EncryptionConfiguration != nil {
		enc, key = string(cur.EncryptionConfiguration.EncryptionType), aws.ToString(cur.EncryptionConfiguration.KmsKey)
	}
	for _, c := range []struct {
		what string
		same bool
	}{
		{"applied for", sameSet(have, t.AppliedFor)},
		{"tag mutability", string(cur.ImageTagMutability) == t.TagMutability && sameSet(haveEx, t.Exclusions)},
		{"encryption", enc == t.Encryption.Type && key == t.Encryption.KMSKey},
		{"lifecycle policy", sameJSON(aws.ToString(cur.LifecyclePolicy), t.LifecyclePolicy)},
		{"repository policy", sameJSON(aws.ToString(cur.RepositoryPolicy), t.RepositoryPolicy)},
		{"role", aws.ToString(cur.CustomRoleArn) == t.CustomRoleArn},
	} {
		if !c.same {
			diff = append(diff, c.what)
		}
	}
	return diff
}

func (r *ecrRun) updateTemplate(ctx context.Context, ch *ExternalChange, t *EcrTemplateDesired, cur *ecrtypes.RepositoryCreationTemplate) {
	diff := r.templateDrift(t, cur)
	if len(diff) == 0 {
		return
	}
	ch.Op, ch.Details = ExtCorrected, []string{strings.Join(diff, ", ") + " set back to the platform's"}
	if r.dryRun {
		return
	}
	_, ch.Err = r.c.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{
		Prefix: aws.String(t.Prefix), AppliedFor: appliedFor(t.AppliedFor), Description: aws.String(r.description(t)), CustomRoleArn: aws.String(t.CustomRoleArn),
		ImageTagMutability: ecrtypes.ImageTagMutability(t.TagMutability), ImageTagMutabilityExclusionFilters: exclusionFilters(t.Exclusions),
		EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionType(t.Encryption.Type), KmsKey: str(t.Encryption.KMSKey)},
		LifecyclePolicy:         aws.String(t.LifecyclePolicy), RepositoryPolicy: aws.String(t.RepositoryPolicy), ResourceTags: r.templateTags(),
	})
}

// retireTemplates deletes the templates Laiki made in this registry that no
// target asks for: a template holds no data, and left behind it would go
// on making repositories with settings the platform dropped.
func (r *ecrRun) retireTemplates(ctx context.Context, wanted map[string][]*EcrTemplateDesired) []ExternalChange {
	var keys []string
	for key, rec := range r.mem.Templates {
		if rec.Region == r.scope.Region && rec.Registry == r.scope.Registry && len(wanted[rec.Prefix]) == 0 {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	var out []ExternalChange
	for _, key := range keys {
		rec := r.mem.Templates[key]
		ch := ExternalChange{Type: typeEcrTemplate, Name: rec.Prefix + "/", Op: ExtDeleted, Details: []string{"no target asks for it any more"}}
		if !r.dryRun {
			_, err := r.c.DeleteRepositoryCreationTemplate(ctx, &ecr.DeleteRepositoryCreationTemplateInput{Prefix: aws.String(rec.Prefix)})
			var gone *ecrtypes.TemplateNotFoundException
			switch {
			case errors.As(err, &gone):
				ch.Op, ch.Details = ExtForgotten, []string{"it was deleted outside Laiki"}
			case err != nil:
				ch.Op, ch.Err = ExtFailed, err
			}
			if ch.Err == nil {
				delete(r.mem.Templates, key)
			}
		}
		out = append(out, ch)
	}
	return out
}
