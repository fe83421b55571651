package reconcile

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/ecrserver"
)

// desiredRepo is what the AwsEcrRepository workflow renders for a name.
func desiredRepo(t *testing.T, name, onDelete, extra string) workflow.External {
	t.Helper()
	var n yaml.Node
	if !strings.Contains(extra, "encryption-configuration") {
		extra += "encryption-configuration: {encryption-type: AES256}\n"
	}
	text := "repository-name: " + name + "\nimage-tag-mutability: IMMUTABLE\nimage-scanning-configuration: {scan-on-push: true}\n" +
		"on-delete: " + onDelete + "\ntags: {app.kubernetes.io/managed-by: laiki, laiki.io/resource: r}\n" + extra
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatal(err)
	}
	return workflow.External{Type: "AwsEcrRepository", Name: name, Resource: "AwsEcrRepository ns/t/" + name, Desired: workflow.Ordered{Node: n.Content[0]}}
}

func ecrFor(t *testing.T) (*Ecr, *ecrserver.Server) {
	t.Helper()
	srv, err := ecrserver.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": ecrserver.AccessKey, "AWS_SECRET_ACCESS_KEY": ecrserver.SecretKey, "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL_ECR": srv.URL, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		t.Setenv(k, v)
	}
	return &Ecr{Instance: "unit", MaxBackoff: 50 * time.Millisecond}, srv
}

func byName(cs []ExternalChange) map[string]ExternalChange {
	out := map[string]ExternalChange{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

// What happens to a repository whose resource is gone is the platform's
// choice, recorded on the repository: keep (tagged orphaned, once),
// delete-if-empty (kept while it holds images), force.
func TestEcrRetire(t *testing.T) {
	ctx := context.Background()
	e, srv := ecrFor(t)
	all := []workflow.External{desiredRepo(t, "keep", "keep", ""), desiredRepo(t, "empty", "delete-if-empty", ""),
		desiredRepo(t, "full", "delete-if-empty", ""), desiredRepo(t, "forced", "force", "")}
	for _, c := range e.Reconcile(ctx, all, false) {
		if c.Op != ExtCreated || c.Err != nil {
			t.Fatalf("%s: %s %v", c.Name, c.Op, c.Err)
		}
	}
	srv.Change("us-east-1", "full", func(r *ecrserver.Repository) { r.Images = 3 })
	srv.Change("us-east-1", "forced", func(r *ecrserver.Repository) { r.Images = 3 })
	got := byName(e.Reconcile(ctx, nil, false))
	want := map[string]string{"keep": ExtOrphaned, "empty": ExtDeleted, "full": ExtOrphaned, "forced": ExtDeleted}
	for name, op := range want {
		if got[name].Op != op || got[name].Err != nil {
			t.Errorf("%s: %s (%v), want %s", name, got[name].Op, got[name].Err, op)
		}
	}
	for name, exists := range map[string]bool{"keep": true, "empty": false, "full": true, "forced": false} {
		r := srv.Repo("us-east-1", name)
		if (r != nil) != exists {
			t.Errorf("%s exists: %v, want %v", name, r != nil, exists)
		}
		if r != nil && r.Tags[TagOrphaned] == "" {
			t.Errorf("%s is kept without the orphaned tag: %v", name, r.Tags)
		}
	}
	// Orphaned once: the next run writes nothing.
	if again := byName(e.Reconcile(ctx, nil, false)); again["keep"].Op != ExtUnchanged || again["full"].Op != ExtUnchanged {
		t.Errorf("orphans again: %+v", again)
	}
	// Wanted again: no longer orphaned.
	back := byName(e.Reconcile(ctx, all[:1], false))
	if back["keep"].Op != ExtCorrected || srv.Repo("us-east-1", "keep").Tags[TagOrphaned] != "" {
		t.Errorf("a repository wanted again: %+v, tags %v", back["keep"], srv.Repo("us-east-1", "keep").Tags)
	}
}

// One repository that cannot be brought to the platform's settings (ECR
// cannot change encryption) fails alone; KMS encryption and a repository
// policy are set as the platform says.
func TestEcrOneFailureAlone(t *testing.T) {
	ctx := context.Background()
	e, srv := ecrFor(t)
	srv.Put(ecrserver.Repository{Name: "kms-made", Region: "us-east-1", TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "KMS", KMSKey: "arn:key"})
	policy := "repository-policy: '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\n"
	kms := desiredRepo(t, "with-kms", "keep", policy+"encryption-configuration: {encryption-type: KMS, kms-key: 'arn:aws:kms:us-east-1:123456789012:key/k'}\n")
	got := byName(e.Reconcile(ctx, []workflow.External{desiredRepo(t, "kms-made", "keep", ""), kms, desiredRepo(t, "plain", "keep", "")}, false))
	if c := got["kms-made"]; c.Op != ExtFailed || c.Err == nil || !strings.Contains(c.Err.Error(), "cannot change a repository's encryption") {
		t.Errorf("kms-made: %+v", c)
	}
	if got["plain"].Op != ExtCreated || got["with-kms"].Op != ExtCreated {
		t.Errorf("the others: %+v", got)
	}
	if r := srv.Repo("us-east-1", "with-kms"); r == nil || !strings.Contains(r.RepositoryPolicy, "2012-10-17") || r.EncryptionType != "KMS" || !strings.HasSuffix(r.KMSKey, "key/k") {
		t.Errorf("the repository policy was not set: %+v", r)
	}
}

// A repository Laiki made for team A, orphaned when team A removed its
// resource (its images kept as evidence), is not handed to team B when
// team B asks for the same name: refused, its tags untouched; once the
// platform releases it (removes its laiki.io/source tag), it is team B's.
func TestEcrNotHandedToAnotherSource(t *testing.T) {
	ctx := context.Background()
	e, srv := ecrFor(t)
	srv.Put(ecrserver.Repository{Name: "zeta", Region: "us-east-1", TagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "AES256",
		Tags: map[string]string{TagManagedBy: "laiki", TagInstance: "unit", TagSource: "team-a", TagOrphaned: "2026-11-01T00:00:00Z", TagResource: "AwsEcrRepository ns/t/zeta"}})
	wanted := desiredRepo(t, "zeta", "keep", "")
	wanted.Desired.Node = setTag(t, wanted.Desired.Node, TagSource, "team-b")
	got := byName(e.Reconcile(ctx, []workflow.External{wanted}, false))["zeta"]
	if got.Op != ExtFailed || got.Err == nil || !strings.Contains(got.Err.Error(), "belongs to source team-a") {
		t.Fatalf("team B's claim: %+v", got)
	}
	if r := srv.Repo("us-east-1", "zeta"); r.Tags[TagSource] != "team-a" || r.Tags[TagOrphaned] == "" {
		t.Errorf("team A's repository was changed: %v", r.Tags)
	}
	srv.Change("us-east-1", "zeta", func(r *ecrserver.Repository) { delete(r.Tags, TagSource) })
	got = byName(e.Reconcile(ctx, []workflow.External{wanted}, false))["zeta"]
	if got.Err != nil || srv.Repo("us-east-1", "zeta").Tags[TagSource] != "team-b" {
		t.Errorf("released, it is team B's: %+v %v", got, srv.Repo("us-east-1", "zeta").Tags)
	}
}

// setTag sets a tag in a desired repository's tags.
func setTag(t *testing.T, n *yaml.Node, key, value string) *yaml.Node {
	t.Helper()
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "tags" {
			tags := n.Content[i+1]
			tags.Content = append(tags.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
		}
	}
	return n
}
