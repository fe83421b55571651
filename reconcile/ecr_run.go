package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ecrRun is one run in one registry.
type ecrRun struct {
	e        *Ecr
	c        *ecr.Client
	scope    ecrScope
	mem      *ecrMemory
	dryRun   bool
	now      time.Time
	info     RunInfo
	declared map[string]bool
	// listed is the registry as this run's one listing read it.
	listed map[string]ecrtypes.Repository
	// full: the drift check is due, and everything is read and compared.
	full bool
}

// repoWork is one desired repository on its way through a run.
type repoWork struct {
	d     *EcrDesired
	key   string
	rec   *ecrRecord
	ch    ExternalChange
	probs *problemSet
	op    string
	// err is a failure a retry may mend (a call that failed).
	err error
	// scan: read the scanning ECR applies to it (after the others, in
	// batches of 25).
	scan     bool
	evidence *EcrSettingsSeen
}

// note says what was (or would be) done; the first operation that is more
// than unchanged names the change.
func (w *repoWork) note(op, format string, args ...any) {
	w.ch.Details = append(w.ch.Details, fmt.Sprintf(format, args...))
	if w.op == "" || w.op == ExtUnchanged {
		w.op = op
	}
}

func (r *ecrRun) reconcile(ctx context.Context, w *wanted) []ExternalChange {
	r.e.say("reading ECR registry %s in %s", orCaller(r.scope.Registry), r.scope.Region)
	listed, err := list(ctx, r.c, r.scope)
	if err != nil {
		return r.unlisted(w, err)
	}
	r.listed = listed
	sc := r.mem.scope(r.scope)
	r.full = sc.Checked.IsZero() || r.now.Sub(sc.Checked) >= r.e.driftInterval()
	r.prefixes(sc, w)
	var out []ExternalChange
	if r.mem.fresh {
		out = append(out, r.importTagged(ctx)...)
	}
	intentErr := r.intend(ctx, w.repos)
	wantedNames := map[string]bool{}
	var work []*repoWork
	for _, d := range w.repos {
		if _, listed := r.listed[d.Name]; !listed && intentErr != nil {
			wantedNames[d.Name] = true
			out = append(out, ExternalChange{Type: typeEcrRepository, Name: d.Name, Resource: d.Resource, Op: ExtFailed, Err: intentErr})
			continue
		}
		wantedNames[d.Name] = true
		work = append(work, r.ensure(ctx, d))
	}
	r.checkScanning(ctx, work)
	for _, wk := range work {
		out = append(out, r.finish(wk))
	}
	out = append(out, r.templates(ctx, w.templates)...)
	out = append(out, r.retire(ctx, wantedNames)...)
	if r.full && !r.failed(out) {
		sc.Checked = r.now
	}
	r.forgetEmpty(w)
	return out
}

// forgetEmpty stops listing a registry once nothing of Laiki's is left in
// it and nothing is wanted there.
func (r *ecrRun) forgetEmpty(w *wanted) {
	if len(w.repos) > 0 || len(w.templates) > 0 {
		return
	}
	for _, rec := range r.mem.Repositories {
		if rec.Region == r.scope.Region && rec.Registry == r.scope.Registry {
			return
		}
	}
	for _, t := range r.mem.Templates {
		if t.Region == r.scope.Region && t.Registry == r.scope.Registry {
			return
		}
	}
	delete(r.mem.Scopes, r.scope.key())
}

func orCaller(registry string) string {
	if registry == "" {
		return "of the caller's account"
	}
	return registry
}

// unlisted fails everything a registry that could not be listed holds: a
// run that cannot see it retires nothing there.
func (r *ecrRun) unlisted(w *wanted, err error) []ExternalChange {
	out := []ExternalChange{{Type: typeEcrRepository, Name: "*", Op: ExtFailed, Err: err}}
	for _, d := range w.repos {
		out = append(out, ExternalChange{Type: typeEcrRepository, Name: d.Name, Resource: d.Resource, Op: ExtFailed, Err: err})
	}
	for _, t := range w.templates {
		out = append(out, ExternalChange{Type: typeEcrTemplate, Name: t.Prefix, Op: ExtFailed, Err: err})
	}
	return out
}

func (r *ecrRun) failed(out []ExternalChange) bool {
	for _, c := range out {
		if c.Err != nil && !c.Terminal {
			return true
		}
	}
	return false
}

// prefixes remembers the name prefixes the targets give in this registry:
// the report lists what else is under them, even once no resource is left.
func (r *ecrRun) prefixes(sc *ecrScopeRecord, w *wanted) {
	seen := map[string]bool{}
	for _, p := range sc.Prefixes {
		seen[p] = true
	}
	for _, d := range w.repos {
		if p := strings.Trim(d.NamePrefix, "/"); p != "" {
			seen[p] = true
		}
	}
	for _, t := range w.templates {
		seen[t.Prefix] = true
	}
	sc.Prefixes = slices.Sorted(maps.Keys(seen))
}

// importTagged, on the first run with records, records the repositories
// that carry this instance's tags as made by the Laiki before (which kept
// no records): each is read once, then never by its tags again.
func (r *ecrRun) importTagged(ctx context.Context) []ExternalChange {
	var out []ExternalChange
	for name, cur := range r.listed {
		key := recordKey(r.scope, name)
		if r.mem.Repositories[key] != nil {
			continue
		}
		tags, err := tagsOf(ctx, r.c, cur)
		if err != nil {
			out = append(out, ExternalChange{Type: typeEcrRepository, Name: name, Op: ExtFailed, Err: fmt.Errorf("reading its tags: %w", err)})
			continue
		}
		if tags[TagManagedBy] != "laiki" || tags[TagInstance] != r.e.Instance {
			continue
		}
		rec := r.record(cur, managedCreated)
		rec.At, rec.By = aws.ToTime(cur.CreatedAt).UTC(), "a Laiki that kept no records (recorded from its tags)"
		rec.Resource, rec.Source, rec.OnDelete, rec.Orphaned = tags[TagResource], tags[TagSource], tags[TagOnDelete], tags[TagOrphaned]
		r.mem.Repositories[key] = rec
	}
	return out
}

// intend records the repositories this run is about to make, and saves
// the records, before any is made: a repository is never made without a
// record saying Laiki made it.
func (r *ecrRun) intend(ctx context.Context, repos []*EcrDesired) error {
	added := false
	for _, d := range repos {
		key := recordKey(r.scope, d.Name)
		if _, listed := r.listed[d.Name]; listed {
			continue
		}
		if rec := r.mem.Repositories[key]; rec == nil || rec.Managed == managedRefused {
			r.mem.Repositories[key] = &ecrRecord{Name: d.Name, Region: r.scope.Region, Registry: r.scope.Registry, Managed: managedCreating, At: r.now, By: laikiVersion()}
			added = true
		}
	}
	if !added || r.dryRun || !r.mem.stored {
		return nil
	}
	if err := r.e.save(ctx, r.mem); err != nil {
		return fmt.Errorf("not made: the record that Laiki makes it could not be kept first (ConfigMap %s): %w", r.e.recordsName(), err)
	}
	return nil
}

// settle decides on a repository recorded as about to be made that exists:
// Laiki made it if it carries this instance's tags (CreateRepository sets
// them at once), else someone else did in between, and it is not Laiki's.
func (r *ecrRun) settle(ctx context.Context, key string, cur ecrtypes.Repository) (*ecrRecord, error) {
	tags, err := tagsOf(ctx, r.c, cur)
	if err != nil {
		return nil, err
	}
	if tags[TagManagedBy] != "laiki" || tags[TagInstance] != r.e.Instance {
		delete(r.mem.Repositories, key)
		return nil, nil
	}
	rec := r.mem.Repositories[key]
	made := r.record(cur, managedCreated)
	made.At, made.By = rec.At, rec.By
	made.Resource, made.Source, made.OnDelete = tags[TagResource], tags[TagSource], tags[TagOnDelete]
	r.mem.Repositories[key] = made
	return made, nil
}

// record starts the record of a repository as ECR listed it.
func (r *ecrRun) record(cur ecrtypes.Repository, managed string) *ecrRecord {
	return &ecrRecord{Name: aws.ToString(cur.RepositoryName), Region: r.scope.Region, Registry: r.scope.Registry, Managed: managed,
		RepositoryCreatedAt: aws.ToTime(cur.CreatedAt).UTC(), URI: aws.ToString(cur.RepositoryUri), At: r.now, By: laikiVersion()}
}

// ensure brings one desired repository about: created when missing,
// claimed when it exists and is not Laiki's yet (or refused), then
// corrected.
func (r *ecrRun) ensure(ctx context.Context, d *EcrDesired) *repoWork {
	wk := &repoWork{d: d, key: recordKey(r.scope, d.Name), ch: ExternalChange{Type: typeEcrRepository, Name: d.Name, Resource: d.Resource}}
	wk.rec = r.mem.Repositories[wk.key]
	wk.probs = newProblems(wk.rec, r.now)
	cur, exists := r.listed[d.Name]
	if wk.rec != nil && wk.rec.Managed == managedCreating && exists {
		if wk.rec, wk.err = r.settle(ctx, wk.key, cur); wk.err != nil {
			return wk
		}
	}
	if rec := wk.rec; rec != nil && exists && !rec.RepositoryCreatedAt.IsZero() && !aws.ToTime(cur.CreatedAt).Equal(rec.RepositoryCreatedAt) {
		// Not the repository recorded: that one was deleted, and this one
		// made by someone else since. Laiki's claim went with the first.
		if rec.Managed == managedCreated || rec.Managed == managedAdopted {
			wk.ch.Details = append(wk.ch.Details, fmt.Sprintf("the repository Laiki %s was deleted outside Laiki, and this one made since (%s)",
				rec.Managed, aws.ToTime(cur.CreatedAt).UTC().Format(time.RFC3339)))
		}
		delete(r.mem.Repositories, wk.key)
		wk.rec, wk.probs = nil, newProblems(nil, r.now)
	}
	switch {
	case !exists:
		r.create(ctx, wk)
	case wk.rec == nil || wk.rec.Managed == managedRefused:
		if r.claim(ctx, wk, cur) && r.sameSource(ctx, wk, cur) {
			r.correct(ctx, wk, cur)
		}
	default:
		if r.sameSource(ctx, wk, cur) {
			r.correct(ctx, wk, cur)
		}
	}
	return wk
}

// laikiTags are the tags Laiki keeps on a repository it manages.
func (r *ecrRun) laikiTags(d *EcrDesired, rec *ecrRecord) map[string]string {
	tags := map[string]string{TagInstance: r.e.Instance, TagOnDelete: d.OnDelete}
	for k, v := range d.Tags {
		tags[k] = v
	}
	if d.Source != "" {
		tags[TagSource] = d.Source
	}
	if rec != nil && rec.Managed == managedAdopted {
		tags[TagAdopted] = rec.At.Format(time.RFC3339)
		if !rec.DeleteAllowed {
			tags[TagOnDelete] = "keep"
		}
	}
	return tags
}

func tagList(m map[string]string) []ecrtypes.Tag {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]ecrtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// create makes a missing repository with the platform's settings.
func (r *ecrRun) create(ctx context.Context, wk *repoWork) {
	d := wk.d
	wk.note(ExtCreated, "tag mutability %s, scan on push %v, encryption %s", mutabilityText(d.TagMutability, d.Exclusions), d.Scanning.ScanOnPush, d.Encryption.Type)
	if wk.rec != nil && (wk.rec.Managed == managedCreated || wk.rec.Managed == managedAdopted) {
		wk.ch.Details = append(wk.ch.Details, "it was deleted outside Laiki: made again")
	}
	wk.probs = newProblems(nil, r.now) // what was said of a repository that is gone is moot
	if r.dryRun {
		return
	}
	out, err := r.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName: aws.String(d.Name), RegistryId: str(d.RegistryID),
		ImageTagMutability:                 ecrtypes.ImageTagMutability(d.TagMutability),
		ImageTagMutabilityExclusionFilters: exclusionFilters(d.Exclusions),
		ImageScanningConfiguration:         &ecrtypes.ImageScanningConfiguration{ScanOnPush: d.Scanning.ScanOnPush},
		EncryptionConfiguration:            &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionType(d.Encryption.Type), KmsKey: str(d.Encryption.KMSKey)},
		Tags:                               tagList(r.laikiTags(d, nil)),
	})
	if err != nil {
		wk.err = err
		return
	}
	rec := r.record(*out.Repository, managedCreated)
	r.mem.Repositories[wk.key] = rec
	wk.rec = rec
	// A new repository holds no image: its lifecycle policy needs no
	// preview.
	if d.LifecyclePolicy != "" {
		if wk.err = r.putLifecycle(ctx, d); wk.err != nil {
			return
		}
		rec.LifecycleSet = true
		wk.ch.Details = append(wk.ch.Details, "lifecycle policy set")
	}
	if d.RepositoryPolicy != "" {
		if wk.err = r.setRepositoryPolicy(ctx, d); wk.err != nil {
			return
		}
		rec.RepositoryPolicySet = true
		wk.ch.Details = append(wk.ch.Details, "repository policy set")
	}
	r.applied(wk)
	wk.evidence, wk.scan = r.seen(*out.Repository), true
	wk.evidence.Tags = r.laikiTags(d, nil)
	wk.evidence.LifecyclePolicy, wk.evidence.RepositoryPolicy = policyDigest(d.LifecyclePolicy), policyDigest(d.RepositoryPolicy)
}

// applied records that the desired state is in force, and who asked.
func (r *ecrRun) applied(wk *repoWork) {
	if wk.err != nil || wk.rec == nil {
		return
	}
	d, rec := wk.d, wk.rec
	rec.Applied, rec.OnDelete = d.fingerprint(), d.OnDelete
	rec.Provenance = Provenance{Resource: d.Resource, Source: d.Source, File: d.File, Commit: r.info.Revisions[d.Source],
		PolicyRevision: r.info.PolicyRevision, AppliedAt: r.now, AppliedBy: laikiVersion()}
}

func mutabilityText(m string, exclusions []string) string {
	if len(exclusions) == 0 {
		return m
	}
	return m + " (except " + strings.Join(exclusions, ", ") + ")"
}

// finish says what became of a repository: a failure a retry may mend; a
// permanent one, said once (failed, Terminal) and then stalled while
// nothing changes; or what was done.
func (r *ecrRun) finish(wk *repoWork) ExternalChange {
	merged, fresh, stale := wk.probs.result()
	if wk.rec != nil {
		wk.rec.Problems = merged
		if wk.evidence != nil {
			wk.rec.Checked = wk.evidence
		}
		if wk.op == ExtCorrected && wk.err == nil {
			wk.rec.Corrections = append(wk.rec.Corrections, EcrCorrection{At: r.now, By: laikiVersion(), What: strings.Join(wk.ch.Details, "; ")})
			if n := len(wk.rec.Corrections); n > 10 {
				wk.rec.Corrections = wk.rec.Corrections[n-10:]
			}
		}
	}
	ch := wk.ch
	ch.Op = wk.op
	if ch.Op == "" {
		ch.Op = ExtUnchanged
	}
	switch {
	case wk.err != nil:
		ch.Op, ch.Err = ExtFailed, wk.err
	case len(fresh) > 0:
		ch.Op, ch.Err, ch.Terminal = ExtFailed, errors.New(strings.Join(append(fresh, stale...), "; ")), true
	case len(stale) > 0 && (ch.Op == ExtUnchanged):
		ch.Op, ch.Err, ch.Terminal = ExtStalled, errors.New(strings.Join(stale, "; ")+" (not retried until the platform's settings or the repository change)"), true
	case len(stale) > 0:
		ch.Err, ch.Terminal = errors.New(strings.Join(stale, "; ")), true
	}
	return ch
}

// problemSet collects a repository's permanent failures in a run: each
// check says its reason is clear, found (with a fingerprint of what it
// saw) or still as recorded; a reason no check looked at stays as it was.
type problemSet struct {
	before  map[string]ecrProblem
	now     map[string]ecrProblem
	checked map[string]bool
	at      time.Time
}

func newProblems(rec *ecrRecord, at time.Time) *problemSet {
	p := &problemSet{before: map[string]ecrProblem{}, now: map[string]ecrProblem{}, checked: map[string]bool{}, at: at}
	if rec != nil {
		for k, v := range rec.Problems {
			p.before[k] = v
		}
	}
	return p
}

func (p *problemSet) clear(reason string) { p.checked[reason] = true; delete(p.now, reason) }

func (p *problemSet) found(reason, fingerprint, message string) {
	p.checked[reason] = true
	since := p.at
	if b, ok := p.before[reason]; ok && b.Fingerprint == fingerprint {
		since = b.Since
	}
	p.now[reason] = ecrProblem{Message: message, Fingerprint: fingerprint, Since: since}
}

// known says whether a reason was found before with this fingerprint:
// nothing it depends on changed, so it is not checked again (keep).
func (p *problemSet) known(reason, fingerprint string) bool {
	b, ok := p.before[reason]
	return ok && b.Fingerprint == fingerprint
}

func (p *problemSet) keep(reason string) {
	p.checked[reason] = true
	p.now[reason] = p.before[reason]
}

// result merges what was found with what was not looked at, and tells
// what is new (or changed) from what was said before.
func (p *problemSet) result() (merged map[string]ecrProblem, fresh, stale []string) {
	merged = map[string]ecrProblem{}
	for k, v := range p.before {
		if !p.checked[k] {
			merged[k] = v
		}
	}
	for k, v := range p.now {
		merged[k] = v
	}
	keys := slices.Sorted(maps.Keys(merged))
	for _, k := range keys {
		v := merged[k]
		if b, ok := p.before[k]; ok && b.Fingerprint == v.Fingerprint {
			stale = append(stale, fmt.Sprintf("%s (since %s)", v.Message, v.Since.Format(time.RFC3339)))
		} else {
			fresh = append(fresh, v.Message)
		}
	}
	if len(merged) == 0 {
		merged = nil
	}
	return merged, fresh, stale
}
