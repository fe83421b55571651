package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Correcting a repository that is Laiki's. What the listing shows (tag
// mutability and its exclusions, scan on push, encryption) is compared
// every run, at no cost; tags, policies and the scanning ECR applies are
// read when the desired state changed and at each drift check. Nothing is
// written where nothing differs.

func (r *ecrRun) correct(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) {
	d, rec := wk.d, wk.rec
	r.mutability(ctx, wk, cur)
	r.scanOnPush(ctx, wk, cur)
	r.encryption(wk, cur)
	due := r.full || rec.Applied != d.fingerprint() || wk.op == ExtAdopted || rec.Orphaned != "" || rec.KeptNotEmpty || r.lifecycleDue(wk, cur)
	if !due || wk.err != nil {
		return
	}
	seen := r.seen(cur)
	tags := r.tags(ctx, wk, cur)
	if wk.err != nil {
		return
	}
	seen.Tags = tags
	seen.LifecyclePolicy = r.lifecycle(ctx, wk, cur)
	if wk.err != nil {
		return
	}
	seen.RepositoryPolicy = r.repositoryPolicy(ctx, wk)
	if wk.err != nil {
		return
	}
	wk.evidence, wk.scan = seen, true
	r.applied(wk)
}

// seen starts the evidence of what ECR reported, from the listing.
func (r *ecrRun) seen(cur ecrtypes.Repository) *EcrSettingsSeen {
	enc, key := encryptionOf(cur)
	return &EcrSettingsSeen{At: r.now, By: laikiVersion(), TagMutability: string(cur.ImageTagMutability), Exclusions: exclusions(cur),
		ScanOnPush: scanOnPushOf(cur), Encryption: enc, KMSKey: key}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

func (r *ecrRun) mutability(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) {
	d := wk.d
	have, haveEx := string(cur.ImageTagMutability), exclusions(cur)
	if have == d.TagMutability && sameSet(haveEx, d.Exclusions) {
		return
	}
	wk.note(ExtCorrected, "tag mutability %s set back to %s", mutabilityText(have, haveEx), mutabilityText(d.TagMutability, d.Exclusions))
	if r.dryRun {
		return
	}
	_, wk.err = r.c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
		ImageTagMutability: ecrtypes.ImageTagMutability(d.TagMutability), ImageTagMutabilityExclusionFilters: exclusionFilters(d.Exclusions)})
}

// scanOnPush keeps the repository's own scan on push as the platform says
// (deprecated by ECR, but still what applies where the registry has no
// scanning configuration); what ECR applies is checked after.
func (r *ecrRun) scanOnPush(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) {
	d := wk.d
	if wk.err != nil || scanOnPushOf(cur) == d.Scanning.ScanOnPush {
		return
	}
	wk.note(ExtCorrected, "scan on push set back to %v", d.Scanning.ScanOnPush)
	if r.dryRun {
		return
	}
	_, wk.err = r.c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: d.Scanning.ScanOnPush}})
}

// encryption: ECR cannot change a repository's encryption, so a
// difference is a permanent failure, said once; the repository is
// otherwise managed as usual.
func (r *ecrRun) encryption(wk *repoWork, cur ecrtypes.Repository) {
	d := wk.d
	typ, key := encryptionOf(cur)
	if typ == d.Encryption.Type && (d.Encryption.KMSKey == "" || key == d.Encryption.KMSKey) {
		wk.probs.clear("encryption")
		return
	}
	got := typ
	if key != "" {
		got += " (" + key + ")"
	}
	want := d.Encryption.Type
	if d.Encryption.KMSKey != "" {
		want += " (" + d.Encryption.KMSKey + ")"
	}
	wk.probs.found("encryption", digest(typ, key, d.Encryption), fmt.Sprintf("encryption is %s and the platform asks for %s; ECR cannot change a repository's encryption: recreate it, or name another repository", orNone(got), want))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// tags sets Laiki's tags back (its own tags stay), and takes the orphaned
// tag off a repository wanted again. It returns the tags as read.
func (r *ecrRun) tags(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) map[string]string {
	have, err := tagsOf(ctx, r.c, cur)
	if err != nil {
		wk.err = err
		return nil
	}
	var diff []ecrtypes.Tag
	var keys []string
	for _, t := range tagList(r.laikiTags(wk.d, wk.rec)) {
		if v, ok := have[aws.ToString(t.Key)]; !ok || v != aws.ToString(t.Value) {
			diff = append(diff, t)
			keys = append(keys, aws.ToString(t.Key))
		}
	}
	if len(diff) > 0 {
		if wk.op == ExtAdopted {
			wk.ch.Details = append(wk.ch.Details, "tagged as Laiki's")
		} else {
			wk.note(ExtCorrected, "tags set back (%s)", strings.Join(keys, ", "))
		}
		if !r.dryRun {
			if _, err := r.c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: cur.RepositoryArn, Tags: diff}); err != nil {
				wk.err = err
				return nil
			}
		}
	}
	if _, orphaned := have[TagOrphaned]; orphaned {
		wk.note(ExtCorrected, "wanted again: no longer orphaned")
		if !r.dryRun {
			if _, err := r.c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: cur.RepositoryArn, TagKeys: []string{TagOrphaned}}); err != nil {
				wk.err = err
				return nil
			}
		}
	}
	wk.rec.Orphaned, wk.rec.KeptNotEmpty = "", false
	return have
}

// policyDigest is the SHA-256 of a policy, for the evidence ("" for none).
func policyDigest(text string) string {
	if text == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(text))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// repositoryPolicy sets the platform's repository policy, or deletes the
// one Laiki set when the platform dropped it (a policy the repository had
// before Laiki, never replaced, stays). It returns the digest in force.
func (r *ecrRun) repositoryPolicy(ctx context.Context, wk *repoWork) string {
	d, rec := wk.d, wk.rec
	current, err := repositoryPolicyOf(ctx, r.c, r.scope, d.Name)
	if err != nil {
		wk.err = err
		return ""
	}
	switch {
	case d.RepositoryPolicy == "" && current != "" && rec.RepositoryPolicySet:
		wk.note(ExtCorrected, "repository policy deleted: the platform no longer gives one")
		if !r.dryRun {
			if _, wk.err = r.c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID)}); wk.err != nil {
				return policyDigest(current)
			}
		}
		rec.RepositoryPolicySet = false
		return ""
	case d.RepositoryPolicy == "":
		rec.RepositoryPolicySet = false
		return policyDigest(current)
	case sameJSON(current, d.RepositoryPolicy):
		rec.RepositoryPolicySet = true
		return policyDigest(current)
	}
	what := "set"
	if current != "" {
		what = "set back"
	}
	wk.note(ExtCorrected, "repository policy %s", what)
	if !r.dryRun {
		if wk.err = r.setRepositoryPolicy(ctx, d); wk.err != nil {
			return policyDigest(current)
		}
	}
	rec.RepositoryPolicySet = true
	return policyDigest(d.RepositoryPolicy)
}

func (r *ecrRun) setRepositoryPolicy(ctx context.Context, d *EcrDesired) error {
	_, err := r.c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID), PolicyText: aws.String(d.RepositoryPolicy)})
	return err
}

func (r *ecrRun) putLifecycle(ctx context.Context, d *EcrDesired) error {
	_, err := r.c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID), LifecyclePolicyText: aws.String(d.LifecyclePolicy)})
	return err
}

// checkScanning reads the scanning ECR applies to the repositories a run
// looked at closely (the registry's scanning configuration decides over
// each repository's deprecated scan on push): a repository it does not
// scan is not compliant, and Laiki cannot mend that from the repository.
func (r *ecrRun) checkScanning(ctx context.Context, work []*repoWork) {
	var names []string
	for _, wk := range work {
		if wk.scan && wk.err == nil && !r.dryRun {
			names = append(names, wk.d.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	got, err := scanning(ctx, r.c, names)
	for _, wk := range work {
		if !wk.scan || wk.err != nil {
			continue
		}
		if err != nil {
			wk.err = err
			continue
		}
		sc, ok := got[wk.d.Name]
		if !ok {
			continue
		}
		r.judgeScanning(wk, sc)
	}
}

func (r *ecrRun) judgeScanning(wk *repoWork, sc ecrtypes.RepositoryScanningConfiguration) {
	var filters []string
	for _, f := range sc.AppliedScanFilters {
		filters = append(filters, aws.ToString(f.Filter))
	}
	if wk.evidence != nil {
		wk.evidence.ScanFrequency, wk.evidence.ScanFilters = string(sc.ScanFrequency), filters
	}
	if !wk.d.Scanning.ScanOnPush || scans(sc.ScanFrequency) {
		wk.probs.clear("scanning")
		return
	}
	wk.probs.found("scanning", digest(sc.ScanFrequency, filters), fmt.Sprintf(
		"scanning is off as ECR applies it (scan frequency %s): the registry's scanning configuration, which decides over the repository's own scan on push, does not scan %s; add a rule that matches it (e.g. the filter %s*) to the registry's scanning configuration",
		orNone(string(sc.ScanFrequency)), wk.d.Name, firstSegment(wk.d.Name)))
}

func firstSegment(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[:i+1]
	}
	return name
}
