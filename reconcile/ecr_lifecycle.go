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
)

// Lifecycle safety: before a lifecycle policy is set on, or changed on, a
// repository that running apps pull from, ECR previews it; a policy that
// would expire (or archive: archived images cannot be pulled) an image an
// app runs is refused, an error on the repository's resource that names
// the apps, said once and looked at again when the policy or the images
// the apps run change. A policy the platform dropped is deleted.

// inUse lists the references (tags and digests) of the repository's images
// that apps run, each with the apps.
func (r *ecrRun) inUse(cur ecrtypes.Repository) map[string][]string {
	uri := strings.ToLower(aws.ToString(cur.RepositoryUri))
	out := map[string][]string{}
	for image, apps := range r.info.Images {
		repo, ref := splitImage(image)
		if strings.ToLower(repo) == uri {
			out[ref] = append(out[ref], apps...)
		}
	}
	return out
}

// splitImage splits an image into its repository and the reference it
// pulls: the digest when it has one, else its tag (latest when none).
func splitImage(image string) (repo, ref string) {
	if at := strings.Index(image, "@"); at >= 0 {
		image, ref = image[:at], image[at+1:]
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		if ref == "" {
			ref = image[colon+1:]
		}
		image = image[:colon]
	}
	if ref == "" {
		ref = "latest"
	}
	return image, ref
}

func (r *ecrRun) lifecycleFingerprint(wk *repoWork, cur ecrtypes.Repository) string {
	used := r.inUse(cur)
	refs := slices.Sorted(maps.Keys(used))
	return digest(wk.d.LifecyclePolicy, refs)
}

// lifecycleDue: a refused lifecycle policy is looked at again when the
// images the apps run change (a new release may free the old one).
func (r *ecrRun) lifecycleDue(wk *repoWork, cur ecrtypes.Repository) bool {
	p, ok := wk.rec.Problems["lifecycle"]
	return ok && p.Fingerprint != r.lifecycleFingerprint(wk, cur)
}

// lifecycle brings the lifecycle policy to the platform's, previewed, and
// returns the digest of the policy in force.
func (r *ecrRun) lifecycle(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) string {
	d, rec := wk.d, wk.rec
	current, err := lifecycleOf(ctx, r.c, r.scope, d.Name)
	if err != nil {
		wk.err = err
		return ""
	}
	switch {
	case d.LifecyclePolicy == "" && current != "" && rec.LifecycleSet:
		wk.probs.clear("lifecycle")
		wk.note(ExtCorrected, "lifecycle policy deleted: the platform no longer gives one")
		if !r.dryRun {
			if _, wk.err = r.c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID)}); wk.err != nil {
				return policyDigest(current)
			}
		}
		rec.LifecycleSet = false
		return ""
	case d.LifecyclePolicy == "":
		wk.probs.clear("lifecycle")
		rec.LifecycleSet = false
		return policyDigest(current)
	case sameJSON(current, d.LifecyclePolicy):
		wk.probs.clear("lifecycle")
		rec.LifecycleSet = true
		return policyDigest(current)
	}
	if !r.safeLifecycle(ctx, wk, cur) {
		return policyDigest(current)
	}
	what := "set"
	if current != "" {
		what = "changed"
	}
	wk.note(ExtCorrected, "lifecycle policy %s", what)
	if !r.dryRun {
		if wk.err = r.putLifecycle(ctx, d); wk.err != nil {
			return policyDigest(current)
		}
	}
	rec.LifecycleSet = true
	return policyDigest(d.LifecyclePolicy)
}

// safeLifecycle previews the platform's lifecycle policy on the repository
// when apps run images from it, and says whether it spares them.
func (r *ecrRun) safeLifecycle(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) bool {
	used := r.inUse(cur)
	if len(used) == 0 {
		wk.probs.clear("lifecycle")
		return true // no app pulls from it: nothing to spare
	}
	fp := r.lifecycleFingerprint(wk, cur)
	if wk.probs.known("lifecycle", fp) {
		wk.probs.keep("lifecycle")
		return false
	}
	results, err := r.preview(ctx, wk.d)
	if err != nil {
		wk.err = err
		return false
	}
	var hurt []string
	for _, res := range results {
		for _, ref := range append([]string{aws.ToString(res.ImageDigest)}, res.ImageTags...) {
			if apps, ok := used[ref]; ok {
				hurt = append(hurt, fmt.Sprintf("%s %s:%s, which %s run", actionText(res.Action), wk.d.Name, ref, strings.Join(dedupe(apps), ", ")))
				break
			}
		}
	}
	if len(hurt) == 0 {
		wk.probs.clear("lifecycle")
		return true
	}
	wk.probs.found("lifecycle", fp, fmt.Sprintf("the platform's lifecycle policy is not set: ECR's preview says it would %s; keep those images in the policy (a rule for their tags), or move the apps to images it keeps",
		strings.Join(hurt, "; ")))
	return false
}

func actionText(a *ecrtypes.LifecyclePolicyRuleAction) string {
	if a != nil && a.Type == ecrtypes.ImageActionTypeTransition {
		return "archive (archived images cannot be pulled)"
	}
	return "expire (delete)"
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// preview runs ECR's lifecycle policy preview and waits for its results,
// within the call timeout.
func (r *ecrRun) preview(ctx context.Context, d *EcrDesired) ([]ecrtypes.LifecyclePolicyPreviewResult, error) {
	limit := r.e.CallTimeout
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	name, registry := aws.String(d.Name), str(d.RegistryID)
	wait := 100 * time.Millisecond
	for {
		_, err := r.c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: name, RegistryId: registry, LifecyclePolicyText: aws.String(d.LifecyclePolicy)})
		var busy *ecrtypes.LifecyclePolicyPreviewInProgressException
		if !errors.As(err, &busy) {
			if err != nil {
				return nil, fmt.Errorf("previewing the lifecycle policy: %w", err)
			}
			break
		}
		if err := sleep(ctx, &wait); err != nil {
			return nil, fmt.Errorf("previewing the lifecycle policy: another preview of the repository did not end: %w", err)
		}
	}
	for {
		if err := sleep(ctx, &wait); err != nil {
			return nil, fmt.Errorf("previewing the lifecycle policy: ECR did not finish it: %w", err)
		}
		results, done, err := r.previewResults(ctx, name, registry)
		if err != nil || done {
			return results, err
		}
	}
}

// sleep waits, doubling the wait up to 2s.
func sleep(ctx context.Context, wait *time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*wait):
	}
	*wait = min(2*(*wait), 2*time.Second)
	return nil
}

func (r *ecrRun) previewResults(ctx context.Context, name, registry *string) ([]ecrtypes.LifecyclePolicyPreviewResult, bool, error) {
	var out []ecrtypes.LifecyclePolicyPreviewResult
	var token *string
	for {
		got, err := r.c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: name, RegistryId: registry, NextToken: token, MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, false, fmt.Errorf("previewing the lifecycle policy: %w", err)
		}
		switch got.Status {
		case ecrtypes.LifecyclePolicyPreviewStatusInProgress:
			return nil, false, nil
		case ecrtypes.LifecyclePolicyPreviewStatusComplete:
		default:
			return nil, false, fmt.Errorf("previewing the lifecycle policy: ECR says %s", got.Status)
		}
		out = append(out, got.PreviewResults...)
		if token = got.NextToken; token == nil {
			return out, true, nil
		}
	}
}
