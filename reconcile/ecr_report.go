package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// The evidence for an auditor: every repository Laiki manages (the
// records, whatever its tags say now), every repository a resource wants
// (made or not), and every other repository under a name prefix Laiki
// manages, each with its settings read from ECR now (the scanning as ECR
// applies it), who asked for it (resource, file, Git commit, policies) and
// whether it complies.

// How a reported repository stands with Laiki.
const (
	ReportCreated   = "created"   // Laiki made it
	ReportAdopted   = "adopted"   // Laiki took it over, as the platform allowed
	ReportRefused   = "refused"   // a resource names it, but it is not Laiki's
	ReportMissing   = "missing"   // a resource wants it, and it is not there
	ReportUnmanaged = "unmanaged" // under a prefix Laiki manages, but no resource asks for it
)

// EcrRecord is one repository as an auditor sees it.
type EcrRecord struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	Registry string `json:"registry,omitempty"`
	URI      string `json:"uri,omitempty"`
	// Managed is created, adopted, refused, missing or unmanaged.
	Managed string `json:"managed"`
	// The settings as ECR reported them when the report was made.
	TagMutability string   `json:"imageTagMutability,omitempty"`
	Exclusions    []string `json:"imageTagMutabilityExclusionFilters,omitempty"`
	// ScanOnPush is the repository's own, deprecated setting; ScanFrequency
	// and ScanFilters what ECR applies (the registry's configuration).
	ScanOnPush    bool     `json:"scanOnPush"`
	ScanFrequency string   `json:"scanFrequency,omitempty"`
	ScanFilters   []string `json:"appliedScanFilters,omitempty"`
	Encryption    string   `json:"encryption,omitempty"`
	KMSKey        string   `json:"kmsKey,omitempty"`
	// LifecyclePolicy and RepositoryPolicy are the SHA-256 of the policies
	// in force ("" for none).
	LifecyclePolicy  string            `json:"lifecyclePolicy,omitempty"`
	RepositoryPolicy string            `json:"repositoryPolicy,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	// Who asked for it, and when Laiki made, adopted and last applied it.
	Provenance
	Target   string    `json:"target,omitempty"`
	MadeAt   time.Time `json:"madeAt,omitempty"`
	MadeBy   string    `json:"madeBy,omitempty"`
	OnDelete string    `json:"onDelete,omitempty"`
	Orphaned string    `json:"orphaned,omitempty"`
	// Corrections are the last settings Laiki set back on it; LastChecked
	// the settings as Laiki's last full check (apply or the operator) read
	// them, when and by which Laiki.
	Corrections []EcrCorrection  `json:"corrections,omitempty"`
	LastChecked *EcrSettingsSeen `json:"lastChecked,omitempty"`
	Compliant   bool             `json:"compliant"`
	Problems    []string         `json:"problems,omitempty"`
	VerifiedAt  time.Time        `json:"verifiedAt"`
	VerifiedBy  string           `json:"verifiedBy"`
}

// Report reads every repository this instance manages or is asked for, in
// the registries of the desired state and those the records name, and
// says what is in force.
func (e *Ecr) Report(ctx context.Context, desired []workflow.External) ([]EcrRecord, error) {
	mem, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	scopes, fails := e.group(ctx, desired)
	for _, f := range fails {
		return nil, f.Err
	}
	for _, s := range mem.scopes() {
		if _, ok := scopes[s.key()]; !ok {
			_, c, err := e.scopeOf(ctx, s.Region, s.Registry)
			if err != nil {
				return nil, err
			}
			scopes[s.key()] = &wanted{scope: s, c: c}
		}
	}
	out := []EcrRecord{}
	for _, w := range scopes {
		recs, err := e.reportScope(ctx, mem, w)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region+"/"+out[i].Name < out[j].Region+"/"+out[j].Name })
	return out, nil
}

// reportScope reads one registry: one listing, then tags, policies and
// the scanning ECR applies for each repository reported.
func (e *Ecr) reportScope(ctx context.Context, mem *ecrMemory, w *wanted) ([]EcrRecord, error) {
	e.say("reading the repositories of registry %s in %s", orCaller(w.scope.Registry), w.scope.Region)
	listed, err := list(ctx, w.c, w.scope)
	if err != nil {
		return nil, err
	}
	byName := map[string]*EcrDesired{}
	for _, d := range w.repos {
		byName[d.Name] = d
	}
	names := e.reported(mem, w, listed, byName)
	var present []string
	for _, n := range names {
		if _, ok := listed[n]; ok {
			present = append(present, n)
		}
	}
	e.say("%d repositories to check in %s", len(present), w.scope.Region)
	scan, err := scanning(ctx, w.c, present)
	if err != nil {
		return nil, err
	}
	now := e.now().Truncate(time.Second)
	var out []EcrRecord
	for i, n := range names {
		if i > 0 && i%25 == 0 {
			e.say("%d of %d checked", i, len(names))
		}
		rec := EcrRecord{Name: n, Region: w.scope.Region, Registry: w.scope.Registry, VerifiedAt: now, VerifiedBy: laikiVersion()}
		e.provenance(&rec, mem.Repositories[recordKey(w.scope, n)], byName[n])
		cur, ok := listed[n]
		if !ok {
			rec.Managed = ReportMissing
			rec.Problems = append(rec.Problems, "it does not exist in ECR")
			out = append(out, rec)
			continue
		}
		policies, err := e.readSettings(ctx, w, &rec, cur, scan[n])
		if err != nil {
			return nil, err
		}
		judge(&rec, policies, byName[n], e.Instance)
		out = append(out, rec)
	}
	return out, nil
}

// reported are the names a registry's report covers: wanted, recorded as
// Laiki's, and under a prefix Laiki manages.
func (e *Ecr) reported(mem *ecrMemory, w *wanted, listed map[string]ecrtypes.Repository, byName map[string]*EcrDesired) []string {
	seen := map[string]bool{}
	for n := range byName {
		seen[n] = true
	}
	for _, rec := range mem.Repositories {
		if rec.Region == w.scope.Region && rec.Registry == w.scope.Registry && rec.Managed != managedRefused {
			seen[rec.Name] = true
		}
	}
	var prefixes []string
	if sc := mem.Scopes[w.scope.key()]; sc != nil {
		prefixes = append(prefixes, sc.Prefixes...)
	}
	for _, d := range w.repos {
		prefixes = append(prefixes, strings.Trim(d.NamePrefix, "/"))
	}
	for _, t := range w.templates {
		prefixes = append(prefixes, t.Prefix)
	}
	for n := range listed {
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(n, p+"/") {
				seen[n] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(seen))
	return names
}

// provenance fills in what the records and the desired state say.
func (e *Ecr) provenance(rec *EcrRecord, r *ecrRecord, d *EcrDesired) {
	switch {
	case r != nil && r.Managed != managedRefused:
		rec.Managed, rec.Provenance, rec.MadeAt, rec.MadeBy = r.Managed, r.Provenance, r.At, r.By
		rec.OnDelete, rec.Orphaned, rec.Corrections, rec.LastChecked = r.OnDelete, r.Orphaned, r.Corrections, r.Checked
		if r.Managed == managedAdopted && !r.DeleteAllowed && r.OnDelete != "keep" {
			rec.OnDelete = "keep (adopted; on-delete " + r.OnDelete + " does not apply)"
		}
	case d != nil:
		rec.Managed = ReportRefused
		if r != nil {
			for _, p := range r.Problems {
				rec.Problems = append(rec.Problems, p.Message)
			}
		}
	default:
		rec.Managed = ReportUnmanaged
	}
	if d != nil {
		rec.Resource, rec.Source, rec.File, rec.Target = d.Resource, d.Source, d.File, d.Tags[kube.LabelTarget]
	}
}

// readSettings reads what the listing does not give, and returns the
// policies' texts.
func (e *Ecr) readSettings(ctx context.Context, w *wanted, rec *EcrRecord, cur ecrtypes.Repository, sc ecrtypes.RepositoryScanningConfiguration) ([2]string, error) {
	rec.URI, rec.TagMutability, rec.Exclusions, rec.ScanOnPush = aws.ToString(cur.RepositoryUri), string(cur.ImageTagMutability), exclusions(cur), scanOnPushOf(cur)
	rec.Encryption, rec.KMSKey = encryptionOf(cur)
	rec.ScanFrequency = string(sc.ScanFrequency)
	for _, f := range sc.AppliedScanFilters {
		rec.ScanFilters = append(rec.ScanFilters, aws.ToString(f.Filter))
	}
	var err error
	if rec.Tags, err = tagsOf(ctx, w.c, cur); err != nil {
		return [2]string{}, err
	}
	lc, err := lifecycleOf(ctx, w.c, w.scope, rec.Name)
	if err != nil {
		return [2]string{}, err
	}
	rp, err := repositoryPolicyOf(ctx, w.c, w.scope, rec.Name)
	if err != nil {
		return [2]string{}, err
	}
	rec.LifecyclePolicy, rec.RepositoryPolicy = policyDigest(lc), policyDigest(rp)
	return [2]string{lc, rp}, nil
}

// judge says whether a repository complies: with the platform's settings
// when a resource wants it, else with the baseline every repository under
// Laiki must meet (immutable tags, scanning as ECR applies it, encryption).
func judge(rec *EcrRecord, policies [2]string, d *EcrDesired, instance string) {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	switch rec.Managed {
	case ReportUnmanaged:
		add("no Laiki resource asks for it: made outside Laiki (by hand, create on push, replication or pull-through cache) under a prefix Laiki manages")
		if rec.Tags[TagTemplate] == instance {
			p[0] += ", from Laiki's creation template"
		}
	case ReportCreated, ReportAdopted:
		if rec.Tags[TagManagedBy] != "laiki" || rec.Tags[TagInstance] != instance {
			add("it does not carry Laiki's tags (%s=laiki, %s=%s)", TagManagedBy, TagInstance, instance)
		}
	}
	if d != nil {
		if rec.TagMutability != d.TagMutability || !sameSet(rec.Exclusions, d.Exclusions) {
			add("tag mutability is %s, the platform's is %s", mutabilityText(rec.TagMutability, rec.Exclusions), mutabilityText(d.TagMutability, d.Exclusions))
		}
		if rec.Encryption != d.Encryption.Type || d.Encryption.KMSKey != "" && rec.KMSKey != d.Encryption.KMSKey {
			add("encryption is %s, the platform's is %s", orNone(rec.Encryption), d.Encryption.Type)
		}
		if d.LifecyclePolicy != "" && !sameJSON(policies[0], d.LifecyclePolicy) {
			add("its lifecycle policy is not the platform's")
		}
		if d.RepositoryPolicy != "" && !sameJSON(policies[1], d.RepositoryPolicy) {
			add("its repository policy is not the platform's")
		}
	} else if rec.TagMutability != string(ecrtypes.ImageTagMutabilityImmutable) && rec.TagMutability != string(ecrtypes.ImageTagMutabilityImmutableWithExclusion) {
		add("tag mutability is %s, not IMMUTABLE", rec.TagMutability)
	}
	if !scans(ecrtypes.ScanFrequency(rec.ScanFrequency)) {
		add("ECR does not scan it (scan frequency %s, as the registry's scanning configuration applies it)", orNone(rec.ScanFrequency))
	}
	if rec.Encryption == "" {
		add("it is not encrypted")
	}
	rec.Problems = append(rec.Problems, p...)
	rec.Compliant = len(rec.Problems) == 0
}
