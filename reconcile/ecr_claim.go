package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/laiki-platform/laiki/engine/kube"
)

// Claiming a repository that exists and is not Laiki's: adopted only where
// the platform allows it (laiki-ecr.adopt, and the resource's adopt: true
// where the platform adopts on request); another Laiki instance's never.
// A refusal is an error on the resource that says how to adopt, said once.

// claim decides on an existing repository Laiki has no record of making:
// it returns whether the repository is Laiki's now.
func (r *ecrRun) claim(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) bool {
	d := wk.d
	fp := digest(d.fingerprint(), aws.ToTime(cur.CreatedAt))
	for _, reason := range []string{"owner", "adoption"} {
		if wk.probs.known(reason, fp) && !r.full {
			wk.probs.keep(reason) // nothing changed since it was refused
			return false
		}
	}
	tags, err := tagsOf(ctx, r.c, cur)
	if err != nil {
		wk.err = err
		return false
	}
	if other := otherInstance(tags, r.e.Instance); other != "" {
		wk.probs.clear("adoption")
		wk.probs.found("owner", fp, fmt.Sprintf("repository %s belongs to %s (its tags %s): Laiki never touches another instance's repository; choose another name", d.Name, other, describeTags(tags)))
		r.refused(wk, cur)
		return false
	}
	if ok, why := mayAdopt(d, tags); !ok {
		wk.probs.clear("owner")
		wk.probs.found("adoption", fp, fmt.Sprintf("repository %s exists and Laiki did not create it (%s); it is left as it is. %s", d.Name, describeTags(tags), why))
		r.refused(wk, cur)
		return false
	}
	wk.probs.clear("owner")
	wk.probs.clear("adoption")
	rec := r.record(cur, managedAdopted)
	rec.DeleteAllowed = d.DeleteAdopted
	r.mem.Repositories[wk.key] = rec
	wk.rec = rec
	onDelete := "on-delete " + d.OnDelete + " applies to it (delete-adopted)"
	if !d.DeleteAdopted {
		onDelete = "it is never deleted by on-delete (the platform did not set delete-adopted)"
	}
	wk.note(ExtAdopted, "adopted as the platform allows (adopt %s%s): made outside Laiki (%s), it is Laiki's from now on and brought to the platform's settings; %s",
		d.Adopt, requested(d), describeTags(tags), onDelete)
	return true
}

func requested(d *EcrDesired) string {
	if d.AdoptRequested {
		return ", asked for by the resource"
	}
	return ""
}

// refused records a repository a resource names that is not Laiki's, so
// that what was said of it is said once: never retired, never deleted.
func (r *ecrRun) refused(wk *repoWork, cur ecrtypes.Repository) {
	if wk.rec == nil {
		wk.rec = r.record(cur, managedRefused)
		wk.rec.At, wk.rec.By = time.Time{}, ""
		r.mem.Repositories[wk.key] = wk.rec
	}
	wk.rec.Provenance = Provenance{Resource: wk.d.Resource, Source: wk.d.Source, File: wk.d.File, Commit: r.info.Revisions[wk.d.Source]}
}

// otherInstance names the Laiki instance a repository's tags give it to,
// when that is not this one ("" when none or this one).
func otherInstance(tags map[string]string, self string) string {
	inst, tagged := tags[TagInstance]
	switch {
	case tagged && inst != self:
		return fmt.Sprintf("Laiki instance %q", inst)
	case !tagged && tags[TagManagedBy] == "laiki":
		return "a Laiki instance that does not say which"
	}
	return ""
}

// mayAdopt says whether the platform lets Laiki adopt a repository with
// these tags for this resource, and if not, how it could.
func mayAdopt(d *EcrDesired, tags map[string]string) (bool, string) {
	target := d.Tags[kube.LabelTarget]
	if tags[TagInstance] != "" {
		// This instance's tags, but no record of making it: a record lost,
		// or tags written by hand. Only an explicit adoption makes it Laiki's.
		if d.Adopt == "always" || d.Adopt != "never" && d.AdoptRequested {
			return true, ""
		}
		return false, fmt.Sprintf("It carries this instance's tags, but Laiki has no record of making it, and tags alone never make a repository Laiki's: to adopt it, add adopt: true to this resource where the platform allows it (laiki-ecr.adopt on target %s), or choose another name", target)
	}
	switch d.Adopt {
	case "always":
		return true, ""
	case "untagged":
		if len(tags) == 0 || d.AdoptRequested {
			return true, ""
		}
		return false, "The platform adopts only repositories with no tags unasked (laiki-ecr.adopt: untagged), and this one has some: add adopt: true to this resource to make it Laiki's, or choose another name"
	case "on-request":
		if d.AdoptRequested {
			return true, ""
		}
		return false, "The platform adopts on request (laiki-ecr.adopt: on-request): add adopt: true to this resource to make it Laiki's, or choose another name"
	}
	return false, fmt.Sprintf("To make it Laiki's, the platform sets laiki-ecr.adopt on target %s (on-request, then this resource says adopt: true; untagged; or always), and delete-adopted if on-delete may ever delete it; or choose another name", target)
}

func describeTags(tags map[string]string) string {
	if len(tags) == 0 {
		return "no tags"
	}
	keys := slices.Sorted(maps.Keys(tags))
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+tags[k])
	}
	return "tags " + strings.Join(kv, ", ")
}

// sameSource keeps a repository with the source it was made for: it is
// never handed to another source, orphaned or not, until the platform
// releases it by removing its laiki.io/source tag.
func (r *ecrRun) sameSource(ctx context.Context, wk *repoWork, cur ecrtypes.Repository) bool {
	d, rec := wk.d, wk.rec
	if rec.Source == "" || rec.Source == d.Source {
		wk.probs.clear("source")
		return true
	}
	fp := digest(d.Source, rec.Source, aws.ToTime(cur.CreatedAt))
	if wk.probs.known("source", fp) && !r.full {
		wk.probs.keep("source")
		return false
	}
	tags, err := tagsOf(ctx, r.c, cur)
	if err != nil {
		wk.err = err
		return false
	}
	if tags[TagSource] == rec.Source {
		wk.probs.found("source", fp, fmt.Sprintf("repository %s belongs to source %s (its tag %s), and is not handed to source %s; the platform releases it by removing that tag",
			d.Name, rec.Source, TagSource, d.Source))
		return false
	}
	wk.probs.clear("source")
	wk.note(ExtCorrected, "released by source %s (its %s tag removed): source %s's from now on", rec.Source, TagSource, d.Source)
	rec.Source = d.Source
	return true
}
