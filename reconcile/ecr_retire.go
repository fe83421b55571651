package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Retiring the repositories Laiki made or adopted that no resource wants:
// every one in the records, in every registry Laiki worked in, whether or
// not a target still names that registry. As on-delete says: keep (tagged
// orphaned, once), delete-if-empty (kept and tagged while it holds images,
// looked at again at each drift check) or force; an adopted repository is
// only ever kept unless its adoption allowed deletion, and without records
// in the cluster nothing is deleted.

func (r *ecrRun) retire(ctx context.Context, wanted map[string]bool) []ExternalChange {
	var keys []string
	for key, rec := range r.mem.Repositories {
		if rec.Region == r.scope.Region && rec.Registry == r.scope.Registry && !wanted[rec.Name] {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	var out []ExternalChange
	for _, key := range keys {
		rec := r.mem.Repositories[key]
		if rec.Managed == managedCreating {
			var err error
			if rec, err = r.settleGone(ctx, key, rec); err != nil {
				out = append(out, ExternalChange{Type: typeEcrRepository, Name: r.mem.Repositories[key].Name, Op: ExtFailed, Err: err})
				continue
			}
			if rec == nil {
				continue
			}
		}
		switch {
		case rec.Managed == managedRefused:
			delete(r.mem.Repositories, key) // never Laiki's: nothing to retire
		case r.declared[rec.Resource]:
			// Its resource is still there (rejected now, or contested): not gone.
		default:
			out = append(out, r.retireOne(ctx, key, rec))
		}
	}
	return out
}

// settleGone settles a repository Laiki was about to make when its
// resource went: not made, nothing to retire; made, it is retired.
func (r *ecrRun) settleGone(ctx context.Context, key string, rec *ecrRecord) (*ecrRecord, error) {
	cur, exists := r.listed[rec.Name]
	if !exists {
		delete(r.mem.Repositories, key)
		return nil, nil
	}
	return r.settle(ctx, key, cur)
}

func (r *ecrRun) retireOne(ctx context.Context, key string, rec *ecrRecord) ExternalChange {
	ch := ExternalChange{Type: typeEcrRepository, Name: rec.Name, Op: ExtUnchanged}
	cur, exists := r.listed[rec.Name]
	switch {
	case !exists:
		delete(r.mem.Repositories, key)
		ch.Op, ch.Details = ExtForgotten, []string{"it was deleted outside Laiki; its record is dropped"}
		return ch
	case !aws.ToTime(cur.CreatedAt).Equal(rec.RepositoryCreatedAt):
		delete(r.mem.Repositories, key)
		ch.Op, ch.Details = ExtForgotten, []string{"the repository Laiki made was deleted outside Laiki and another made under its name, which is not Laiki's: left as it is"}
		return ch
	}
	policy, why := r.onDelete(rec)
	switch policy {
	case "delete-if-empty":
		r.deleteIfEmpty(ctx, &ch, key, rec, cur)
	case "force":
		r.delete(ctx, &ch, key, rec, true)
	default:
		r.orphan(ctx, &ch, rec, cur, why)
	}
	if ch.Err != nil {
		ch.Op = ExtFailed
	}
	return ch
}

// onDelete is what becomes of a repository whose resource is gone, and why
// when it is kept.
func (r *ecrRun) onDelete(rec *ecrRecord) (string, string) {
	switch {
	case rec.OnDelete == "" || rec.OnDelete == "keep":
		return "keep", "its resource is gone; kept, since its images are evidence"
	case rec.Managed == managedAdopted && !rec.DeleteAllowed:
		return "keep", fmt.Sprintf("its resource is gone; kept whatever on-delete (%s) says: Laiki adopted it, and the adoption did not allow deleting it (delete-adopted)", rec.OnDelete)
	case !r.mem.stored:
		return "keep", fmt.Sprintf("its resource is gone; kept whatever on-delete (%s) says: Laiki keeps no records in the cluster (no status namespace), and deletes nothing it cannot tell it made", rec.OnDelete)
	}
	return rec.OnDelete, ""
}

// orphan tags a kept repository as orphaned, once.
func (r *ecrRun) orphan(ctx context.Context, ch *ExternalChange, rec *ecrRecord, cur ecrtypes.Repository, why string) {
	if rec.Orphaned != "" {
		return
	}
	ch.Op, ch.Details = ExtOrphaned, append(ch.Details, why)
	if r.dryRun {
		return
	}
	at := r.now.Format(time.RFC3339)
	if _, ch.Err = r.c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: cur.RepositoryArn,
		Tags: []ecrtypes.Tag{{Key: aws.String(TagOrphaned), Value: aws.String(at)}}}); ch.Err == nil {
		rec.Orphaned = at
	}
}

// deleteIfEmpty deletes a repository that holds no image. One that does is
// kept (tagged orphaned) and looked at again at the next drift check, not
// every run: its images are not going anywhere by the minute.
func (r *ecrRun) deleteIfEmpty(ctx context.Context, ch *ExternalChange, key string, rec *ecrRecord, cur ecrtypes.Repository) {
	const why = "its resource is gone; it still holds images, so it is kept (delete-if-empty)"
	if rec.KeptNotEmpty && !r.full {
		r.orphan(ctx, ch, rec, cur, why)
		return
	}
	got, err := r.c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: cur.RepositoryName, RegistryId: str(r.scope.Registry), MaxResults: aws.Int32(1)})
	if err != nil {
		ch.Err = err
		return
	}
	if len(got.ImageIds) > 0 {
		rec.KeptNotEmpty = true
		r.orphan(ctx, ch, rec, cur, why)
		return
	}
	r.delete(ctx, ch, key, rec, false)
	var notEmpty *ecrtypes.RepositoryNotEmptyException
	if errors.As(ch.Err, &notEmpty) { // an image pushed meanwhile
		ch.Err, ch.Op, ch.Details, rec.KeptNotEmpty = nil, ExtUnchanged, nil, true
		r.orphan(ctx, ch, rec, cur, why)
	}
}

func (r *ecrRun) delete(ctx context.Context, ch *ExternalChange, key string, rec *ecrRecord, force bool) {
	ch.Op, ch.Details = ExtDeleted, []string{fmt.Sprintf("its resource is gone and the platform deletes such repositories (on-delete %s)", rec.OnDelete)}
	if r.dryRun {
		return
	}
	_, ch.Err = r.c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(rec.Name), RegistryId: str(r.scope.Registry), Force: force})
	var gone *ecrtypes.RepositoryNotFoundException
	if ch.Err == nil || errors.As(ch.Err, &gone) {
		ch.Err = nil
		delete(r.mem.Repositories, key)
	}
}
