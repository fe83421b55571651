package reconcile

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/ecrserver"
)

const region = "us-east-1"

// desiredRepo is what the AwsEcrRepository workflow renders for a name, for
// source team-a, with extra YAML keys of the desired state.
func desiredRepo(t *testing.T, name, onDelete, extra string) workflow.External {
	t.Helper()
	var n yaml.Node
	if !strings.Contains(extra, "encryption-configuration") {
		extra += "encryption-configuration: {encryption-type: AES256}\n"
	}
	if !strings.Contains(extra, "image-tag-mutability:") {
		extra += "image-tag-mutability: IMMUTABLE\n"
	}
	text := "repository-name: " + name + "\nimage-scanning-configuration: {scan-on-push: true}\n" +
		"on-delete: " + onDelete + "\ntags: {app.kubernetes.io/managed-by: laiki, laiki.io/resource: r, laiki.io/target: ns/t}\n" + extra
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatal(err)
	}
	return workflow.External{Type: "AwsEcrRepository", Name: name, Resource: "AwsEcrRepository ns/t/" + name, Source: "team-a", File: name + ".yaml",
		Desired: workflow.Ordered{Node: n.Content[0]}}
}

// clock is a test's clock, which it moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time               { return c.t }
func (c *clock) pass(d time.Duration)         { c.t = c.t.Add(d) }
func newClock() *clock                        { return &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) ecr(store client.Client) *Ecr { return ecrWith(store, c) }

// ecrWith is the registry as the operator makes it, keeping its records in
// store (nil keeps none).
func ecrWith(store client.Client, c *clock) *Ecr {
	e := &Ecr{Instance: "unit", MaxBackoff: 50 * time.Millisecond, Now: c.now}
	if store != nil {
		e.Store, e.Namespace = store, "laiki-system"
	}
	return e
}

func startServer(t *testing.T) *ecrserver.Server {
	t.Helper()
	srv, err := ecrserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": ecrserver.AccessKey, "AWS_SECRET_ACCESS_KEY": ecrserver.SecretKey, "AWS_REGION": region,
		"AWS_ENDPOINT_URL_ECR": srv.URL, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		t.Setenv(k, v)
	}
	return srv
}

// ecrFor is a registry with its records in a cluster, a clock and a server.
func ecrFor(t *testing.T) (*Ecr, *ecrserver.Server, *clock, client.Client) {
	t.Helper()
	srv := startServer(t)
	store := fake.NewClientBuilder().WithScheme(cluster.Scheme()).Build()
	c := newClock()
	return c.ecr(store), srv, c, store
}

func byName(cs []ExternalChange) map[string]ExternalChange {
	out := map[string]ExternalChange{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

// ecrWrites counts the calls that change something in ECR.
func ecrWrites(srv *ecrserver.Server) int {
	n := 0
	for op, c := range srv.Calls() {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "Get") && !strings.HasPrefix(op, "List") && !strings.HasPrefix(op, "BatchGet") {
			n += c
		}
	}
	return n
}

func calls(srv *ecrserver.Server) int {
	n := 0
	for _, c := range srv.Calls() {
		n += c
	}
	return n
}

func mustCreate(t *testing.T, cs []ExternalChange) {
	t.Helper()
	for _, c := range cs {
		if c.Op != ExtCreated || c.Err != nil {
			t.Fatalf("%s: %s %v", c.Name, c.Op, c.Err)
		}
	}
}

// What happens to a repository whose resource is gone is the platform's
// choice, recorded: keep (tagged orphaned, once), delete-if-empty (kept
// while it holds images), force.
func TestEcrRetire(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	all := []workflow.External{desiredRepo(t, "keep", "keep", ""), desiredRepo(t, "empty", "delete-if-empty", ""),
		desiredRepo(t, "full", "delete-if-empty", ""), desiredRepo(t, "forced", "force", "")}
	mustCreate(t, e.Reconcile(ctx, all, false))
	srv.Change(region, "full", func(r *ecrserver.Repository) { r.Images = 3 })
	srv.Change(region, "forced", func(r *ecrserver.Repository) { r.Images = 3 })
	got := byName(e.Reconcile(ctx, nil, false))
	want := map[string]string{"keep": ExtOrphaned, "empty": ExtDeleted, "full": ExtOrphaned, "forced": ExtDeleted}
	for name, op := range want {
		if got[name].Op != op || got[name].Err != nil {
			t.Errorf("%s: %s (%v), want %s", name, got[name].Op, got[name].Err, op)
		}
	}
	for name, exists := range map[string]bool{"keep": true, "empty": false, "full": true, "forced": false} {
		r := srv.Repo(region, name)
		if (r != nil) != exists {
			t.Errorf("%s exists: %v, want %v", name, r != nil, exists)
		}
		if r != nil && r.Tags[TagOrphaned] == "" {
			t.Errorf("%s is kept without the orphaned tag: %v", name, r.Tags)
		}
	}
	// Orphaned once: the next run writes nothing.
	before := ecrWrites(srv)
	if again := byName(e.Reconcile(ctx, nil, false)); again["keep"].Op != ExtUnchanged || again["full"].Op != ExtUnchanged {
		t.Errorf("orphans again: %+v", again)
	}
	if n := ecrWrites(srv) - before; n != 0 {
		t.Errorf("a second retire made %d writes: %v", n, srv.Calls())
	}
	// Wanted again: no longer orphaned.
	back := byName(e.Reconcile(ctx, all[:1], false))
	if back["keep"].Op != ExtCorrected || srv.Repo(region, "keep").Tags[TagOrphaned] != "" {
		t.Errorf("a repository wanted again: %+v, tags %v", back["keep"], srv.Repo(region, "keep").Tags)
	}
}

// Point 1. A repository Laiki never created (team-a/legacy, MUTABLE,
// tagged owner=data-engineering, with a repository policy) is not taken
// over: an error on the resource that says how to adopt, said once, the
// repository untouched; the platform's adopt decides, a resource asks
// where the platform adopts on request, and an adopted repository is never
// deleted by on-delete unless its adoption said so.
func TestEcrAdoptionOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	legacy := ecrserver.Repository{Name: "team-a/legacy", Region: region, TagMutability: "MUTABLE", EncryptionType: "AES256",
		Tags: map[string]string{"owner": "data-engineering"}, RepositoryPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`}
	srv.Put(legacy)
	policy := "repository-policy: '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\n"
	asked := desiredRepo(t, "team-a/legacy", "delete-if-empty", policy)
	before := ecrWrites(srv)
	got := byName(e.Reconcile(ctx, []workflow.External{asked}, false))["team-a/legacy"]
	if got.Op != ExtFailed || !got.Terminal || got.Err == nil || !strings.Contains(got.Err.Error(), "Laiki did not create it") || !strings.Contains(got.Err.Error(), "laiki-ecr.adopt") {
		t.Fatalf("an unasked takeover: %+v", got)
	}
	if r := srv.Repo(region, "team-a/legacy"); r.TagMutability != "MUTABLE" || len(r.Tags) != 1 || !strings.Contains(r.RepositoryPolicy, "ecr:*") || ecrWrites(srv) != before {
		t.Errorf("the repository was touched: %+v, %d writes", r, ecrWrites(srv)-before)
	}
	// Said once: the next run says it again as stalled, reads no tags.
	listed := srv.Calls()["ListTagsForResource"]
	again := byName(e.Reconcile(ctx, []workflow.External{asked}, false))["team-a/legacy"]
	if again.Op != ExtStalled || !again.Terminal || srv.Calls()["ListTagsForResource"] != listed {
		t.Errorf("the refusal again: %+v (tags read %d times)", again, srv.Calls()["ListTagsForResource"]-listed)
	}
	// The platform adopts on request; the resource does not ask yet.
	onRequest := desiredRepo(t, "team-a/legacy", "delete-if-empty", policy+"adopt: on-request\n")
	if c := byName(e.Reconcile(ctx, []workflow.External{onRequest}, false))["team-a/legacy"]; c.Op != ExtFailed || !strings.Contains(c.Err.Error(), "add adopt: true") {
		t.Errorf("on request, unasked: %+v", c)
	}
	// Asked for: adopted, brought to the platform's settings, its own tags kept.
	requested := desiredRepo(t, "team-a/legacy", "delete-if-empty", policy+"adopt: on-request\nadopt-requested: true\n")
	c := byName(e.Reconcile(ctx, []workflow.External{requested}, false))["team-a/legacy"]
	if c.Op != ExtAdopted || c.Err != nil {
		t.Fatalf("asked for: %+v", c)
	}
	r := srv.Repo(region, "team-a/legacy")
	if r.TagMutability != "IMMUTABLE" || r.Tags["owner"] != "data-engineering" || r.Tags[TagInstance] != "unit" || r.Tags[TagAdopted] == "" || r.Tags[TagOnDelete] != "keep" || strings.Contains(r.RepositoryPolicy, "ecr:*") {
		t.Errorf("adopted: %+v", r)
	}
	// Its resource gone: kept and tagged orphaned, never deleted, though
	// empty and under delete-if-empty (the adoption did not allow it) ...
	clk.pass(time.Hour)
	gone := byName(e.Reconcile(ctx, nil, false))["team-a/legacy"]
	if gone.Op != ExtOrphaned || srv.Repo(region, "team-a/legacy") == nil || srv.Calls()["DeleteRepository"] != 0 {
		t.Fatalf("an adopted repository whose resource is gone: %+v", gone)
	}
	// ... however many drift checks pass.
	for i := 0; i < 3; i++ {
		clk.pass(time.Hour)
		e.Reconcile(ctx, nil, false)
	}
	if srv.Repo(region, "team-a/legacy") == nil || srv.Calls()["DeleteRepository"] != 0 {
		t.Error("the adopted repository was deleted")
	}
}

// An adoption that allows deletion (delete-adopted) lets on-delete
// delete; and adopt: untagged takes a repository with no tags unasked, but
// not one with tags.
func TestEcrAdoptedDeletedOnlyWhenAllowed(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	srv.Put(ecrserver.Repository{Name: "bare", Region: region})
	srv.Put(ecrserver.Repository{Name: "owned", Region: region, Tags: map[string]string{"owner": "x"}})
	got := byName(e.Reconcile(ctx, []workflow.External{
		desiredRepo(t, "bare", "delete-if-empty", "adopt: untagged\ndelete-adopted: true\n"),
		desiredRepo(t, "owned", "delete-if-empty", "adopt: untagged\n"),
	}, false))
	if got["bare"].Op != ExtAdopted || got["owned"].Op != ExtFailed || !strings.Contains(got["owned"].Err.Error(), "has some") {
		t.Fatalf("untagged: %+v", got)
	}
	if gone := byName(e.Reconcile(ctx, nil, false))["bare"]; gone.Op != ExtDeleted || srv.Repo(region, "bare") != nil {
		t.Errorf("an adoption that allowed deletion: %+v", gone)
	}
	if srv.Repo(region, "owned") == nil {
		t.Error("the refused repository was deleted")
	}
	// Nothing of Laiki's is left in the registry: it is not listed any more.
	n := calls(srv)
	e.Reconcile(ctx, nil, false)
	if calls(srv) != n {
		t.Errorf("a registry with nothing of Laiki's is still read: %v", srv.Calls())
	}
}

// Another Laiki instance's repository is never touched, even where the
// platform adopts always; and tags alone (written by hand, or by an
// attacker with ECR access) never make Laiki delete a repository.
func TestEcrAnotherInstanceUntouched(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	e.Reconcile(ctx, nil, false) // the records exist: tags are not imported any more
	other := ecrserver.Repository{Name: "shared", Region: region, TagMutability: "MUTABLE",
		Tags: map[string]string{TagManagedBy: "laiki", TagInstance: "other", TagResource: "AwsEcrRepository x/y/shared"}}
	srv.Put(other)
	forged := ecrserver.Repository{Name: "forged", Region: region, TagMutability: "IMMUTABLE", ScanOnPush: true,
		Tags: map[string]string{TagManagedBy: "laiki", TagInstance: "unit", TagOnDelete: "force", TagResource: "AwsEcrRepository ns/t/forged"}}
	srv.Put(forged)
	before := ecrWrites(srv)
	got := byName(e.Reconcile(ctx, []workflow.External{desiredRepo(t, "shared", "force", "adopt: always\n")}, false))["shared"]
	if got.Op != ExtFailed || !strings.Contains(got.Err.Error(), `Laiki instance "other"`) {
		t.Fatalf("another instance's: %+v", got)
	}
	for i := 0; i < 3; i++ {
		clk.pass(time.Hour)
		e.Reconcile(ctx, nil, false)
	}
	if r := srv.Repo(region, "shared"); r == nil || r.Tags[TagInstance] != "other" || r.TagMutability != "MUTABLE" {
		t.Errorf("another instance's repository was touched: %+v", r)
	}
	if srv.Repo(region, "forged") == nil || ecrWrites(srv) != before {
		t.Errorf("a repository with forged tags was deleted or written (%d writes)", ecrWrites(srv)-before)
	}
}

// Point 2. The records outlive a restart: a target's last repository,
// gone from Git, is retired by a new process (tagged orphaned; under
// delete-if-empty, deleted) and reported by it, with who asked for it.
func TestEcrTrackedAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, store := ecrFor(t)
	ctx = WithRunInfo(ctx, RunInfo{PolicyRevision: "p1", Revisions: map[string]string{"team-a": "c0ffee"}})
	mustCreate(t, e.Reconcile(ctx, []workflow.External{desiredRepo(t, "team-a/last", "keep", "region: eu-central-1\nname-prefix: team-a/\n"),
		desiredRepo(t, "team-a/empty", "delete-if-empty", "region: eu-central-1\nname-prefix: team-a/\n")}, false))
	restarted := clk.ecr(store)
	got := byName(restarted.Reconcile(ctx, nil, false))
	if got["team-a/last"].Op != ExtOrphaned || got["team-a/empty"].Op != ExtDeleted {
		t.Fatalf("after a restart, with no resource left: %+v", got)
	}
	if r := srv.Repo("eu-central-1", "team-a/last"); r == nil || r.Tags[TagOrphaned] == "" {
		t.Errorf("the last repository of its region: %+v", r)
	}
	srv.Change("eu-central-1", "team-a/last", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE"; delete(r.Tags, TagManagedBy) })
	report, err := clk.ecr(store).Report(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 1 || report[0].Name != "team-a/last" || report[0].Compliant || report[0].Managed != ReportCreated ||
		report[0].Commit != "c0ffee" || report[0].PolicyRevision != "p1" || report[0].File != "team-a/last.yaml" || report[0].Orphaned == "" ||
		report[0].LastChecked == nil || report[0].LastChecked.ScanFrequency != "SCAN_ON_PUSH" || report[0].LastChecked.TagMutability != "IMMUTABLE" {
		t.Errorf("report after a restart: %+v", report)
	}
}

// A process stopped between CreateRepository and saving its records
// leaves the record it saved before (creating): the next run settles it by
// the repository's tags, and retires it.
func TestEcrStoppedWhileCreating(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, store := ecrFor(t)
	mustCreate(t, e.Reconcile(ctx, []workflow.External{desiredRepo(t, "mine", "keep", "")}, false))
	m, err := e.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range m.Repositories {
		*rec = ecrRecord{Name: rec.Name, Region: rec.Region, Managed: managedCreating}
	}
	// Another repository was about to be made when someone else made it.
	m.Repositories[recordKey(ecrScope{Region: region}, "theirs")] = &ecrRecord{Name: "theirs", Region: region, Managed: managedCreating}
	if err := e.save(ctx, m); err != nil {
		t.Fatal(err)
	}
	srv.Put(ecrserver.Repository{Name: "theirs", Region: region, Tags: map[string]string{"owner": "them"}})
	got := byName(clk.ecr(store).Reconcile(ctx, nil, false))
	if c := got["mine"]; c.Op != ExtOrphaned {
		t.Errorf("a repository made by a process that stopped: %+v", c)
	}
	if _, said := got["theirs"]; said || len(srv.Repo(region, "theirs").Tags) != 1 {
		t.Errorf("someone else's repository: %+v %+v", got["theirs"], srv.Repo(region, "theirs"))
	}
}

// Point 7. Permanent failures are said once: a repository encrypted
// otherwise fails once (Terminal, so the operator does not back off and
// retry), then stalls with no new call; a repository that holds images
// under delete-if-empty is kept once, and looked at again only at the drift
// check, not with a failing DeleteRepository every run.
func TestEcrTerminalOnce(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	srv.Put(ecrserver.Repository{Name: "kms-made", Region: region, TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "KMS", KMSKey: "arn:key"})
	want := []workflow.External{desiredRepo(t, "kms-made", "keep", "adopt: always\n"), desiredRepo(t, "plain", "keep", "")}
	first := byName(e.Reconcile(ctx, want, false))
	if c := first["kms-made"]; c.Op != ExtFailed || !c.Terminal || !strings.Contains(c.Err.Error(), "cannot change a repository's encryption") {
		t.Errorf("kms-made: %+v", c)
	}
	if first["plain"].Op != ExtCreated {
		t.Errorf("the other: %+v", first["plain"])
	}
	n := calls(srv)
	second := byName(e.Reconcile(ctx, want, false))
	if c := second["kms-made"]; c.Op != ExtStalled || !c.Terminal || c.Err == nil {
		t.Errorf("kms-made again: %+v", c)
	}
	if d := calls(srv) - n; d != 1 {
		t.Errorf("a run with a permanent failure made %d calls (one listing wanted): %v", d, srv.Calls())
	}

	srv.Put(ecrserver.Repository{Name: "full", Region: region})
	e2, srv2, clk2, _ := ecrFor(t)
	_ = srv
	_ = clk
	mustCreate(t, e2.Reconcile(ctx, []workflow.External{desiredRepo(t, "full", "delete-if-empty", "")}, false))
	srv2.Change(region, "full", func(r *ecrserver.Repository) { r.Images = 2 })
	if c := byName(e2.Reconcile(ctx, nil, false))["full"]; c.Op != ExtOrphaned || c.Err != nil {
		t.Fatalf("a full repository under delete-if-empty: %+v", c)
	}
	deletes := srv2.Calls()["DeleteRepository"]
	for i := 0; i < 3; i++ {
		if c := byName(e2.Reconcile(ctx, nil, false))["full"]; c.Op != ExtUnchanged {
			t.Errorf("kept again: %+v", c)
		}
	}
	if srv2.Calls()["DeleteRepository"] != deletes || srv2.Calls()["ListImages"] != 1 {
		t.Errorf("the full repository was tried again every run: %v", srv2.Calls())
	}
	srv2.Change(region, "full", func(r *ecrserver.Repository) { r.Images = 0 })
	clk2.pass(11 * time.Minute)
	if c := byName(e2.Reconcile(ctx, nil, false))["full"]; c.Op != ExtDeleted || srv2.Repo(region, "full") != nil {
		t.Errorf("emptied, at the drift check: %+v", c)
	}
}

// Point 6. A lifecycle or repository policy the platform drops is deleted
// from the repositories Laiki set it on; a repository's own policy, from
// before an adoption and never replaced, stays.
func TestEcrDroppedPoliciesDeleted(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	policies := "lifecycle-policy: '" + expireOld + "'\nrepository-policy: '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\n"
	mustCreate(t, e.Reconcile(ctx, []workflow.External{desiredRepo(t, "app", "keep", policies)}, false))
	srv.Put(ecrserver.Repository{Name: "own", Region: region, TagMutability: "IMMUTABLE", ScanOnPush: true, RepositoryPolicy: `{"Version":"2012-10-17","Statement":[{"Sid":"own"}]}`})
	got := byName(e.Reconcile(ctx, []workflow.External{desiredRepo(t, "app", "keep", ""), desiredRepo(t, "own", "keep", "adopt: always\n")}, false))
	if c := got["app"]; c.Op != ExtCorrected || !strings.Contains(c.String(), "lifecycle policy deleted") || !strings.Contains(c.String(), "repository policy deleted") {
		t.Errorf("dropped policies: %+v", c)
	}
	if r := srv.Repo(region, "app"); r.LifecyclePolicy != "" || r.RepositoryPolicy != "" {
		t.Errorf("the dropped policies stay: %+v", r)
	}
	if r := srv.Repo(region, "own"); !strings.Contains(r.RepositoryPolicy, "own") {
		t.Errorf("the repository's own policy was deleted: %+v", r)
	}
}

const expireOld = `{"rules":[{"rulePriority":1,"description":"old","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}`

// Point 3. Scanning as ECR applies it: a registry-level scanning
// configuration that leaves a repository out switches its scanning off
// whatever its own scan on push says; that is a failure on the resource and
// non-compliant in the report.
func TestEcrEffectiveScanning(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	srv.SetRegistryScanning(region, ecrserver.ScanningConfiguration{ScanType: "BASIC", Rules: []ecrserver.ScanningRule{{ScanFrequency: "SCAN_ON_PUSH", Filters: []string{"prod-*"}}}})
	want := []workflow.External{desiredRepo(t, "team-a/app", "keep", "")}
	c := byName(e.Reconcile(ctx, want, false))["team-a/app"]
	if c.Err == nil || !c.Terminal || !strings.Contains(c.Err.Error(), "scanning is off as ECR applies it") {
		t.Fatalf("scanning off at the registry: %+v", c)
	}
	if r := srv.Repo(region, "team-a/app"); !r.ScanOnPush {
		t.Errorf("the repository's own scan on push: %+v", r)
	}
	rep, err := e.Report(ctx, want)
	if err != nil || len(rep) != 1 || rep[0].Compliant || rep[0].ScanFrequency != "MANUAL" || !rep[0].ScanOnPush {
		t.Errorf("report: %+v %v", rep, err)
	}
	srv.SetRegistryScanning(region, ecrserver.ScanningConfiguration{ScanType: "BASIC", Rules: []ecrserver.ScanningRule{{ScanFrequency: "SCAN_ON_PUSH", Filters: []string{"*"}}}})
	if rep, _ := e.Report(ctx, want); len(rep) != 1 || !rep[0].Compliant {
		t.Errorf("scanned by the registry: %+v", rep)
	}
}

// Point 9. IMMUTABLE_WITH_EXCLUSION: the platform's exclusion filters are
// set, and a repository loosened by hand (MUTABLE, or more exclusions) is
// set back.
func TestEcrExclusions(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	mode := "image-tag-mutability: IMMUTABLE_WITH_EXCLUSION\nimage-tag-mutability-exclusion-filters: [dev-*, latest]\n"
	want := []workflow.External{desiredRepo(t, "app", "keep", mode)}
	mustCreate(t, e.Reconcile(ctx, want, false))
	if r := srv.Repo(region, "app"); r.TagMutability != "IMMUTABLE_WITH_EXCLUSION" || strings.Join(r.Exclusions, ",") != "dev-*,latest" {
		t.Fatalf("created: %+v", r)
	}
	srv.Change(region, "app", func(r *ecrserver.Repository) { r.Exclusions = append(r.Exclusions, "release-*") })
	if c := byName(e.Reconcile(ctx, want, false))["app"]; c.Op != ExtCorrected || !strings.Contains(c.String(), "set back to IMMUTABLE_WITH_EXCLUSION (except dev-*, latest)") {
		t.Errorf("a widened exclusion: %+v", c)
	}
	srv.Change(region, "app", func(r *ecrserver.Repository) { r.TagMutability, r.Exclusions = "MUTABLE", nil })
	e.Reconcile(ctx, want, false)
	if r := srv.Repo(region, "app"); r.TagMutability != "IMMUTABLE_WITH_EXCLUSION" || len(r.Exclusions) != 2 {
		t.Errorf("set back: %+v", r)
	}
}

// Point 5. A lifecycle policy is previewed before it is set on a
// repository apps pull from: one that would expire an image an app runs is
// refused (said once), the running image kept; with archive, the same.
// One that spares them is set.
func TestEcrLifecyclePreview(t *testing.T) {
	ctx := context.Background()
	e, srv, _, _ := ecrFor(t)
	mustCreate(t, e.Reconcile(ctx, []workflow.External{desiredRepo(t, "team-a/app", "keep", "")}, false))
	old := time.Now().Add(-60 * 24 * time.Hour)
	srv.Change(region, "team-a/app", func(r *ecrserver.Repository) {
		r.ImageList = []ecrserver.Image{{Digest: "sha256:1", Tags: []string{"1.0"}, PushedAt: old}, {Digest: "sha256:2", Tags: []string{"2.0"}, PushedAt: time.Now()}}
	})
	uri := ecrserver.Account + ".dkr.ecr." + region + ".amazonaws.com/team-a/app"
	ctx = WithRunInfo(ctx, RunInfo{Images: map[string][]string{uri + ":1.0": {"ShinyProxyApp ns/t/dash"}}})
	want := []workflow.External{desiredRepo(t, "team-a/app", "keep", "lifecycle-policy: '"+expireOld+"'\n")}
	c := byName(e.Reconcile(ctx, want, false))["team-a/app"]
	if c.Op != ExtFailed || !c.Terminal || !strings.Contains(c.Err.Error(), "expire (delete) team-a/app:1.0, which ShinyProxyApp ns/t/dash run") {
		t.Fatalf("a policy that would expire a running image: %+v", c)
	}
	if r := srv.Repo(region, "team-a/app"); r.LifecyclePolicy != "" {
		t.Errorf("the policy was set: %s", r.LifecyclePolicy)
	}
	previews := srv.Calls()["StartLifecyclePolicyPreview"]
	if again := byName(e.Reconcile(ctx, want, false))["team-a/app"]; again.Op != ExtStalled || srv.Calls()["StartLifecyclePolicyPreview"] != previews {
		t.Errorf("refused again: %+v, %d previews", again, srv.Calls()["StartLifecyclePolicyPreview"])
	}
	// The app moves to 2.0: the policy spares it, and is set.
	ctx = WithRunInfo(ctx, RunInfo{Images: map[string][]string{uri + ":2.0": {"ShinyProxyApp ns/t/dash"}}})
	if c := byName(e.Reconcile(ctx, want, false))["team-a/app"]; c.Op != ExtCorrected || c.Err != nil || !strings.Contains(srv.Repo(region, "team-a/app").LifecyclePolicy, "expire") {
		t.Errorf("a policy that spares the running image: %+v", c)
	}
}

// Point 4. A creation template for the prefix is made with the platform's
// settings and kept in line; a repository ECR makes under the prefix from
// a push, and one made by hand, are reported as unmanaged, not compliant.
func TestEcrCreationTemplateAndUnmanaged(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	var n yaml.Node
	_ = yaml.Unmarshal([]byte("prefix: team-a\napplied-for: [CREATE_ON_PUSH, REPLICATION]\nimage-tag-mutability: IMMUTABLE\nencryption-configuration: {encryption-type: AES256}\ntarget: ns/t\n"), &n)
	tmpl := workflow.External{Type: "AwsEcrRepositoryCreationTemplate", Name: "team-a", Desired: workflow.Ordered{Node: n.Content[0]}}
	want := []workflow.External{desiredRepo(t, "team-a/app", "keep", "name-prefix: team-a/\n"), tmpl}
	got := byName(e.Reconcile(ctx, want, false))
	if got["team-a/"].Op != ExtCreated || srv.Template(region, "team-a") == nil || srv.Template(region, "team-a").TagMutability != "IMMUTABLE" {
		t.Fatalf("template: %+v %+v", got["team-a/"], srv.Template(region, "team-a"))
	}
	if err := srv.Push(region, "team-a/pushed", ecrserver.Image{Digest: "sha256:p"}); err != nil {
		t.Fatal(err)
	}
	srv.Put(ecrserver.Repository{Name: "team-a/by-hand", Region: region})
	srv.ChangeTemplate(region, "team-a", func(tp *ecrserver.Template) { tp.TagMutability = "MUTABLE" })
	clk.pass(11 * time.Minute)
	if c := byName(e.Reconcile(ctx, want, false))["team-a/"]; c.Op != ExtCorrected || srv.Template(region, "team-a").TagMutability != "IMMUTABLE" {
		t.Errorf("a template changed by hand: %+v", c)
	}
	rep, err := e.Report(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range rep {
		states[r.Name] = r.Managed
		if r.Managed == ReportUnmanaged && r.Compliant {
			t.Errorf("an unmanaged repository is compliant: %+v", r)
		}
	}
	if states["team-a/pushed"] != ReportUnmanaged || states["team-a/by-hand"] != ReportUnmanaged || states["team-a/app"] != ReportCreated {
		t.Errorf("report: %v", states)
	}
	// The platform drops the template: Laiki deletes the one it made.
	if c := byName(e.Reconcile(ctx, want[:1], false))["team-a/"]; c.Op != ExtDeleted || srv.Template(region, "team-a") != nil {
		t.Errorf("a dropped template: %+v", c)
	}
}

// Point 8. A steady state costs one listing per registry per run and
// makes no write; the drift check reads the rest on its interval, and a
// change in Git or one the listing shows is applied at once.
func TestEcrSteadyState(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	var want []workflow.External
	for _, name := range []string{"app-a", "app-b", "app-c", "app-d"} {
		want = append(want, desiredRepo(t, name, "keep", "lifecycle-policy: '"+expireOld+"'\n"))
	}
	want = append(want, desiredRepo(t, "west", "keep", "region: us-west-2\n"))
	mustCreate(t, e.Reconcile(ctx, want, false))
	for i := 0; i < 3; i++ {
		clk.pass(time.Minute)
		before, n := srv.Calls(), calls(srv)
		for _, c := range e.Reconcile(ctx, want, false) {
			if c.Op != ExtUnchanged || c.Err != nil {
				t.Errorf("steady: %+v", c)
			}
		}
		if d := calls(srv) - n; d != 2 || srv.Calls()["DescribeRepositories"]-before["DescribeRepositories"] != 2 {
			t.Errorf("a steady run made %d calls, want one listing in each of the 2 regions: %v", d, srv.Calls())
		}
	}
	// A change the listing shows is set back at once, without the rest.
	srv.Change(region, "app-b", func(r *ecrserver.Repository) { r.TagMutability = "MUTABLE" })
	n := calls(srv)
	if c := byName(e.Reconcile(ctx, want, false))["app-b"]; c.Op != ExtCorrected {
		t.Errorf("drift in the listing: %+v", c)
	}
	if d := calls(srv) - n; d != 3 {
		t.Errorf("setting back one mutability took %d calls: %v", d, srv.Calls())
	}
	// A policy edited by hand waits for the drift check.
	srv.Change(region, "app-c", func(r *ecrserver.Repository) { r.LifecyclePolicy = strings.Replace(expireOld, "30", "1", 1) })
	clk.pass(11 * time.Minute)
	if c := byName(e.Reconcile(ctx, want, false))["app-c"]; c.Op != ExtCorrected || !strings.Contains(c.String(), "lifecycle policy changed") {
		t.Errorf("drift check: %+v", c)
	}
}

// Records of `laiki apply` and the operator, saved at once, are merged.
func TestEcrRecordsMerged(t *testing.T) {
	ctx := context.Background()
	_, _, clk, store := ecrFor(t)
	one, two := clk.ecr(store), clk.ecr(store)
	m1, err := one.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := two.load(ctx)
	m1.Repositories["r/x/a"] = &ecrRecord{Name: "a", Managed: managedCreated}
	m2.Repositories["r/x/b"] = &ecrRecord{Name: "b", Managed: managedCreated}
	if err := one.save(ctx, m1); err != nil {
		t.Fatal(err)
	}
	if err := two.save(ctx, m2); err != nil {
		t.Fatal(err)
	}
	got, _ := one.load(ctx)
	if got.Repositories["r/x/a"] == nil || got.Repositories["r/x/b"] == nil {
		t.Errorf("merged: %v", got.Repositories)
	}
}

// Without a place for its records, Laiki deletes nothing.
func TestEcrNoRecordsNoDelete(t *testing.T) {
	ctx := context.Background()
	startServer(t)
	e := ecrWith(nil, newClock())
	mustCreate(t, e.Reconcile(ctx, []workflow.External{desiredRepo(t, "forced", "force", "")}, false))
	if c := byName(e.Reconcile(ctx, nil, false))["forced"]; c.Op != ExtOrphaned || !strings.Contains(c.String(), "deletes nothing") {
		t.Errorf("force without records: %+v", c)
	}
}

// A repository Laiki made for team A, orphaned when team A removed its
// resource (its images kept as evidence), is not handed to team B when
// team B asks for the same name: refused, its tags untouched; once the
// platform releases it (removes its laiki.io/source tag), it is team B's
// at the next drift check.
func TestEcrNotHandedToAnotherSource(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	srv.Put(ecrserver.Repository{Name: "zeta", Region: region, TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "AES256",
		Tags: map[string]string{TagManagedBy: "laiki", TagInstance: "unit", TagSource: "team-a", TagOrphaned: "2026-11-01T00:00:00Z", TagResource: "AwsEcrRepository ns/t/zeta"}})
	wanted := desiredRepo(t, "zeta", "keep", "")
	wanted.Source = "team-b"
	got := byName(e.Reconcile(ctx, []workflow.External{wanted}, false))["zeta"]
	if got.Op != ExtFailed || got.Err == nil || !strings.Contains(got.Err.Error(), "belongs to source team-a") {
		t.Fatalf("team B's claim: %+v", got)
	}
	if r := srv.Repo(region, "zeta"); r.Tags[TagSource] != "team-a" || r.Tags[TagOrphaned] == "" {
		t.Errorf("team A's repository was changed: %v", r.Tags)
	}
	srv.Change(region, "zeta", func(r *ecrserver.Repository) { delete(r.Tags, TagSource) })
	clk.pass(11 * time.Minute)
	got = byName(e.Reconcile(ctx, []workflow.External{wanted}, false))["zeta"]
	if got.Err != nil || srv.Repo(region, "zeta").Tags[TagSource] != "team-b" {
		t.Errorf("released, it is team B's: %+v %v", got, srv.Repo(region, "zeta").Tags)
	}
}

// A wanted repository deleted and made again outside Laiki, without its
// tags, is not Laiki's any more (the record names another repository): an
// error on the resource, and the report lists it as refused.
func TestEcrRecreatedOutsideLaiki(t *testing.T) {
	ctx := context.Background()
	e, srv, clk, _ := ecrFor(t)
	want := []workflow.External{desiredRepo(t, "again", "force", "")}
	mustCreate(t, e.Reconcile(ctx, want, false))
	srv.Delete(region, "again")
	srv.Put(ecrserver.Repository{Name: "again", Region: region, CreatedAt: time.Now().Add(time.Hour)})
	clk.pass(time.Minute)
	c := byName(e.Reconcile(ctx, want, false))["again"]
	if c.Op != ExtFailed || !strings.Contains(c.String(), "was deleted outside Laiki, and this one made since") || !strings.Contains(c.String(), "Laiki did not create it") {
		t.Errorf("recreated outside Laiki: %+v", c)
	}
	rep, err := e.Report(ctx, want)
	if err != nil || len(rep) != 1 || rep[0].Managed != ReportRefused || rep[0].Compliant {
		t.Errorf("report: %+v %v", rep, err)
	}
	if byName(e.Reconcile(ctx, nil, false))["again"].Op == ExtDeleted || srv.Repo(region, "again") == nil {
		t.Error("the repository made outside Laiki was deleted")
	}
}

// The report of nothing is empty, not null.
func TestEcrEmptyReport(t *testing.T) {
	startServer(t)
	rep, err := ecrWith(nil, newClock()).Report(context.Background(), nil)
	if err != nil || rep == nil || len(rep) != 0 {
		t.Errorf("empty report: %#v %v", rep, err)
	}
}

func TestSplitImage(t *testing.T) {
	for in, want := range map[string][2]string{
		"r.example.com/a/b:1.0":            {"r.example.com/a/b", "1.0"},
		"r.example.com:5000/a/b":           {"r.example.com:5000/a/b", "latest"},
		"r.example.com/a/b:1@sha256:abc":   {"r.example.com/a/b", "sha256:abc"},
		"r.example.com:5000/a/b@sha256:ff": {"r.example.com:5000/a/b", "sha256:ff"},
	} {
		if repo, ref := splitImage(in); repo != want[0] || ref != want[1] {
			t.Errorf("%s: %s %s", in, repo, ref)
		}
	}
}
