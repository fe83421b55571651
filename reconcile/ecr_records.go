package reconcile

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The records: what Laiki made and adopted in ECR, kept in the cluster
// (ConfigMap <instance>-ecr, beside <instance>-accepted) so that retire,
// delete-if-empty and the report cover every repository Laiki manages,
// across restarts and after a target's last resource leaves. Tags on a
// repository say who claims it; only the records say Laiki made it (a tag
// anyone with ECR access can write never makes Laiki delete a repository).

const ecrRecordsKey = "ecr.json.gz"

// How a repository came to be recorded.
const (
	managedCreated = "created"
	managedAdopted = "adopted"
	// managedCreating is a repository Laiki is about to make: recorded
	// before CreateRepository, so that a process stopped between the two
	// leaves a record (settled by the repository's tags on the next run).
	managedCreating = "creating"
	// managedRefused is a repository a resource names that is not Laiki's
	// (adoption not allowed, another instance's): recorded only to say why
	// once, never retired or deleted.
	managedRefused = ""
)

// ecrMemory is the records.
type ecrMemory struct {
	Repositories map[string]*ecrRecord         `json:"repositories"`
	Templates    map[string]*ecrTemplateRecord `json:"templates,omitempty"`
	// Scopes are the registries Laiki has worked in: each is listed every
	// run, wanted or not, until nothing of Laiki's is left in it.
	Scopes map[string]*ecrScopeRecord `json:"scopes"`

	// fresh: there were no records at all (the first run of a version that
	// keeps them): repositories tagged as this instance's are taken as made
	// by the Laiki before.
	fresh bool
	// stored: the records live in the cluster. Without, Laiki deletes no
	// repository.
	stored bool
	// resourceVersion of the ConfigMap read, what it held, and each entry
	// as read (what this run changed is merged onto a newer ConfigMap
	// another writer saved meanwhile).
	resourceVersion string
	exists          bool
	saved           string
	read            map[string]string
}

type ecrScopeRecord struct {
	Region   string `json:"region"`
	Registry string `json:"registry,omitempty"`
	// Prefixes are the name prefixes of the targets that made repositories
	// here: the report lists what else is under them.
	Prefixes []string `json:"prefixes,omitempty"`
	// Checked is when the last full drift check read everything.
	Checked time.Time `json:"checked"`
}

// ecrRecord is one repository.
type ecrRecord struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	Registry string `json:"registry,omitempty"`
	// Managed is created, adopted, or "" (refused: not Laiki's).
	Managed string `json:"managed,omitempty"`
	// DeleteAllowed: the adoption let on-delete delete it (delete-adopted).
	DeleteAllowed bool `json:"deleteAllowed,omitempty"`
	// RepositoryCreatedAt is ECR's: a repository of the same name made
	// later by someone else is another repository, and not Laiki's.
	RepositoryCreatedAt time.Time `json:"repositoryCreatedAt,omitempty"`
	URI                 string    `json:"uri,omitempty"`
	// At and By: when, and by which Laiki, it was made or adopted.
	At time.Time `json:"at,omitempty"`
	By string    `json:"by,omitempty"`
	// The last resource that asked for it, and the state applied for it.
	Provenance
	OnDelete string `json:"onDelete,omitempty"`
	// Applied is the fingerprint of the desired state last applied in full.
	Applied string `json:"applied,omitempty"`
	// LifecycleSet and RepositoryPolicySet: Laiki set that policy, so it
	// deletes it when the platform drops it (a policy the repository had
	// before adoption and the platform never replaced stays).
	LifecycleSet        bool   `json:"lifecycleSet,omitempty"`
	RepositoryPolicySet bool   `json:"repositoryPolicySet,omitempty"`
	Orphaned            string `json:"orphaned,omitempty"`
	// KeptNotEmpty: under delete-if-empty, it held images when last looked
	// at; looked at again at the next drift check, not every run.
	KeptNotEmpty bool                  `json:"keptNotEmpty,omitempty"`
	Problems     map[string]ecrProblem `json:"problems,omitempty"`
	Checked      *EcrSettingsSeen      `json:"checked,omitempty"`
	Corrections  []EcrCorrection       `json:"corrections,omitempty"`
}

// Provenance says which resource asked for a repository, from which file
// and Git commit, under which policies, and when Laiki last applied it.
type Provenance struct {
	Resource       string    `json:"resource,omitempty"`
	Source         string    `json:"source,omitempty"`
	File           string    `json:"file,omitempty"`
	Commit         string    `json:"commit,omitempty"`
	PolicyRevision string    `json:"policyRevision,omitempty"`
	AppliedAt      time.Time `json:"appliedAt,omitempty"`
	AppliedBy      string    `json:"appliedBy,omitempty"`
}

// ecrProblem is a permanent failure, said once: it is said again (stalled)
// while its fingerprint stays, and checked anew when that changes.
type ecrProblem struct {
	Message     string    `json:"message"`
	Fingerprint string    `json:"fingerprint"`
	Since       time.Time `json:"since"`
}

// EcrSettingsSeen is a repository's settings as ECR reported them.
type EcrSettingsSeen struct {
	At            time.Time `json:"at"`
	By            string    `json:"by"`
	TagMutability string    `json:"imageTagMutability"`
	Exclusions    []string  `json:"imageTagMutabilityExclusionFilters,omitempty"`
	// ScanOnPush is the repository's own (deprecated) setting;
	// ScanFrequency what ECR applies (the registry's scanning
	// configuration decides).
	ScanOnPush    bool     `json:"scanOnPush"`
	ScanFrequency string   `json:"scanFrequency,omitempty"`
	ScanFilters   []string `json:"appliedScanFilters,omitempty"`
	Encryption    string   `json:"encryption"`
	KMSKey        string   `json:"kmsKey,omitempty"`
	// The policies' SHA-256 ("" when there is none).
	LifecyclePolicy  string            `json:"lifecyclePolicy,omitempty"`
	RepositoryPolicy string            `json:"repositoryPolicy,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// EcrCorrection is a setting Laiki set back: the evidence of drift, kept
// (the last ten) whether the operator or `laiki apply` did it.
type EcrCorrection struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	What string    `json:"what"`
}

func recordKey(s ecrScope, name string) string { return s.key() + "/" + name }

// scopes are the registries the records name.
func (m *ecrMemory) scopes() []ecrScope {
	seen := map[string]ecrScope{}
	for _, s := range m.Scopes {
		seen[ecrScope{s.Region, s.Registry}.key()] = ecrScope{s.Region, s.Registry}
	}
	for _, r := range m.Repositories {
		seen[ecrScope{r.Region, r.Registry}.key()] = ecrScope{r.Region, r.Registry}
	}
	for _, t := range m.Templates {
		seen[ecrScope{t.Region, t.Registry}.key()] = ecrScope{t.Region, t.Registry}
	}
	out := make([]ecrScope, 0, len(seen))
	for _, s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (m *ecrMemory) scope(s ecrScope) *ecrScopeRecord {
	r := m.Scopes[s.key()]
	if r == nil {
		r = &ecrScopeRecord{Region: s.Region, Registry: s.Registry}
		m.Scopes[s.key()] = r
	}
	return r
}

func (e *Ecr) recordsName() string { return e.Instance + "-ecr" }

func (e *Ecr) stored() bool { return e.Store != nil && e.Namespace != "" }

func emptyMemory() *ecrMemory {
	return &ecrMemory{Repositories: map[string]*ecrRecord{}, Templates: map[string]*ecrTemplateRecord{}, Scopes: map[string]*ecrScopeRecord{}}
}

// load reads the records for a run: from the cluster (every run: `laiki
// apply` and the operator may both write them), or as the last run left
// them. The run works on its own copy; a dry run's is thrown away.
func (e *Ecr) load(ctx context.Context) (*ecrMemory, error) {
	if !e.stored() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.memory == nil {
			m := emptyMemory()
			m.fresh = true
			return m, nil
		}
		return e.memory.copy(), nil
	}
	return e.read(ctx)
}

func (e *Ecr) read(ctx context.Context) (*ecrMemory, error) {
	m := emptyMemory()
	m.stored = true
	cm := &corev1.ConfigMap{}
	err := e.Store.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.recordsName()}, cm)
	if apierrors.IsNotFound(err) {
		m.fresh = true
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the records of the repositories Laiki made (ConfigMap %s/%s): %w", e.Namespace, e.recordsName(), err)
	}
	m.exists, m.resourceVersion = true, cm.ResourceVersion
	if err := m.decode(cm.BinaryData[ecrRecordsKey]); err != nil {
		// Not read as records: nothing may be deleted on a guess, and
		// nothing overwritten; the platform restores or deletes it.
		return nil, fmt.Errorf("ConfigMap %s/%s does not read as Laiki's records (%v): restore it, or delete it to rebuild them from the repositories' tags", e.Namespace, e.recordsName(), err)
	}
	m.saved, m.read = string(cm.BinaryData[ecrRecordsKey]), m.entries()
	return m, nil
}

// entries are the records one by one, as JSON, by kind and key.
func (m *ecrMemory) entries() map[string]string {
	out := map[string]string{}
	add := func(kind, k string, v any) { out[kind+":"+k] = string(mustJSON(v)) }
	for k, v := range m.Repositories {
		add("repo", k, v)
	}
	for k, v := range m.Templates {
		add("template", k, v)
	}
	for k, v := range m.Scopes {
		add("scope", k, v)
	}
	return out
}

func (m *ecrMemory) decode(gz []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, m); err != nil {
		return err
	}
	if m.Repositories == nil {
		m.Repositories = map[string]*ecrRecord{}
	}
	if m.Scopes == nil {
		m.Scopes = map[string]*ecrScopeRecord{}
	}
	if m.Templates == nil {
		m.Templates = map[string]*ecrTemplateRecord{}
	}
	return nil
}

func (m *ecrMemory) encode() ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// copy is a deep copy, through JSON.
func (m *ecrMemory) copy() *ecrMemory {
	c := emptyMemory()
	raw, _ := json.Marshal(m)
	_ = json.Unmarshal(raw, c)
	c.stored, c.exists, c.resourceVersion, c.saved, c.read = m.stored, m.exists, m.resourceVersion, m.saved, m.read
	return c
}

// save writes the records when the run changed them. Another writer may
// have saved meanwhile (`laiki apply` beside the operator): then the keys
// this run changed are put onto theirs, and saved again.
func (e *Ecr) save(ctx context.Context, m *ecrMemory) error {
	if !e.stored() {
		e.mu.Lock()
		e.memory = m.copy()
		e.mu.Unlock()
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := e.write(ctx, m)
		if err == nil || !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) || attempt == 4 {
			return err
		}
		theirs, rerr := e.read(ctx)
		if rerr != nil {
			return rerr
		}
		m = theirs.merge(m)
	}
}

func (e *Ecr) write(ctx context.Context, m *ecrMemory) error {
	data, err := m.encode()
	if err != nil {
		return err
	}
	if m.exists && string(data) == m.saved {
		return nil
	}
	cm := &corev1.ConfigMap{}
	cm.Name, cm.Namespace = e.recordsName(), e.Namespace
	cm.Labels = map[string]string{LabelManagedBy: "laiki", LabelInstance: e.Instance}
	cm.Annotations = map[string]string{"laiki.io/what": "the ECR repositories and creation templates this Laiki instance made or adopted; laiki ecr report reads it"}
	cm.BinaryData = map[string][]byte{ecrRecordsKey: data}
	if m.exists {
		cm.ResourceVersion = m.resourceVersion
		err = e.Store.Update(ctx, cm)
	} else {
		err = e.Store.Create(ctx, cm)
	}
	if err == nil {
		m.exists, m.resourceVersion, m.saved = true, cm.ResourceVersion, string(data)
	}
	return err
}

// merge puts what ours changed since it was read onto theirs (a newer
// save), entry by entry.
func (theirs *ecrMemory) merge(ours *ecrMemory) *ecrMemory {
	now := ours.entries()
	for key := range union(now, ours.read) {
		if now[key] == ours.read[key] {
			continue // not ours to say
		}
		kind, k, _ := strings.Cut(key, ":")
		switch kind {
		case "repo":
			mergeKey(theirs.Repositories, ours.Repositories, k)
		case "template":
			mergeKey(theirs.Templates, ours.Templates, k)
		case "scope":
			mergeKey(theirs.Scopes, ours.Scopes, k)
		}
	}
	theirs.fresh = ours.fresh
	return theirs
}

func union(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func mergeKey[T any](theirs, ours map[string]T, k string) {
	if v, ok := ours[k]; ok {
		theirs[k] = v
	} else {
		delete(theirs, k)
	}
}
