package ecrserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// client is the real SDK, pointed at a server of its own.
func client(t *testing.T) (*ecr.Client, *Server) {
	t.Helper()
	srv, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey, "AWS_REGION": "eu-west-1",
		"AWS_ENDPOINT_URL_ECR": srv.URL, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ecr.NewFromConfig(cfg), srv
}

// code is the error code of an SDK error (smithy's APIError).
func code(err error) string {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

const expireUntagged = `{"rules":[{"rulePriority":1,"description":"untagged","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

// The SDK reads every new answer as AWS's: exclusion filters checked as
// ECR checks them, lifecycle and repository policies deleted with their
// own not-found errors, previews that take a while and judge the images,
// registry-level scanning that overrides a repository's scan on push, and
// creation templates that make the repositories a push creates.
func TestWireProtocol(t *testing.T) {
	ctx := context.Background()
	c, srv := client(t)
	name := aws.String("team-a/app")
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: name, ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion}); code(err) != "InvalidParameterException" {
		t.Errorf("IMMUTABLE_WITH_EXCLUSION without filters: %v", err)
	}
	filters := []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("dev-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: name, ImageTagMutability: types.ImageTagMutabilityImmutable, ImageTagMutabilityExclusionFilters: filters}); code(err) != "InvalidParameterException" {
		t.Errorf("filters with IMMUTABLE: %v", err)
	}
	bad := []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("dev/*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: name, ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: bad}); code(err) != "InvalidParameterException" {
		t.Errorf("a filter outside ECR's pattern: %v", err)
	}
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: name, ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: filters}); err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil || len(got.Repositories) != 1 || len(got.Repositories[0].ImageTagMutabilityExclusionFilters) != 1 || aws.ToString(got.Repositories[0].ImageTagMutabilityExclusionFilters[0].Filter) != "dev-*" {
		t.Fatalf("describe: %+v %v", got, err)
	}

	if _, err := c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: name}); code(err) != "LifecyclePolicyNotFoundException" {
		t.Errorf("delete of no lifecycle policy: %v", err)
	}
	if _, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: name}); code(err) != "RepositoryPolicyNotFoundException" {
		t.Errorf("delete of no repository policy: %v", err)
	}
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: name, LifecyclePolicyText: aws.String(`{"rules":[]}`)}); code(err) != "InvalidParameterException" {
		t.Errorf("a policy too short: %v", err)
	}

	// A preview judges the images as they are, and takes a while.
	old := time.Now().Add(-48 * time.Hour)
	srv.Change("eu-west-1", "team-a/app", func(r *Repository) {
		r.ImageList = []Image{{Digest: "sha256:a", PushedAt: old}, {Digest: "sha256:b", PushedAt: time.Now()}, {Digest: "sha256:c", Tags: []string{"1.0"}, PushedAt: old}}
	})
	if _, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: name}); code(err) != "LifecyclePolicyPreviewNotFoundException" {
		t.Errorf("no preview yet: %v", err)
	}
	if _, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: name, LifecyclePolicyText: aws.String(expireUntagged)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: name, LifecyclePolicyText: aws.String(expireUntagged)}); code(err) != "LifecyclePolicyPreviewInProgressException" {
		t.Errorf("a second preview at once: %v", err)
	}
	var p *ecr.GetLifecyclePolicyPreviewOutput
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p, err = c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: name}); err != nil || p.Status == types.LifecyclePolicyPreviewStatusComplete {
			break
		}
	}
	if err != nil || p.Status != types.LifecyclePolicyPreviewStatusComplete || len(p.PreviewResults) != 1 || aws.ToString(p.PreviewResults[0].ImageDigest) != "sha256:a" ||
		p.PreviewResults[0].Action.Type != types.ImageActionTypeExpire || aws.ToInt32(p.Summary.ExpiringImageTotalCount) != 1 {
		t.Fatalf("preview: %+v %v", p, err)
	}

	// Registry-level scanning decides over the repository's own setting.
	if _, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: name, ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
		t.Fatal(err)
	}
	scan := func() types.RepositoryScanningConfiguration {
		out, err := c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: []string{"team-a/app"}})
		if err != nil || len(out.ScanningConfigurations) != 1 {
			t.Fatalf("batch get: %+v %v", out, err)
		}
		return out.ScanningConfigurations[0]
	}
	if s := scan(); s.ScanFrequency != types.ScanFrequencyScanOnPush {
		t.Errorf("the repository's own scan on push: %+v", s)
	}
	if _, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: types.ScanTypeBasic,
		Rules: []types.RegistryScanningRule{{ScanFrequency: types.ScanFrequencyScanOnPush, RepositoryFilters: []types.ScanningRepositoryFilter{{Filter: aws.String("prod-*"), FilterType: types.ScanningRepositoryFilterTypeWildcard}}}}}); err != nil {
		t.Fatal(err)
	}
	if s := scan(); s.ScanFrequency != types.ScanFrequencyManual || s.ScanOnPush {
		t.Errorf("a registry rule that leaves it out: %+v", s)
	}

	// A creation template makes what a push creates.
	if _, err := c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("team-a"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush},
		ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{Prefix: aws.String("team-a"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush}}); code(err) != "TemplateAlreadyExistsException" {
		t.Errorf("a second template: %v", err)
	}
	if _, err := c.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{Prefix: aws.String("team-b")}); code(err) != "TemplateNotFoundException" {
		t.Errorf("update of no template: %v", err)
	}
	if err := srv.Push("eu-west-1", "team-a/pushed", Image{Digest: "sha256:d"}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Repo("eu-west-1", "team-a/pushed"); r == nil || r.TagMutability != "IMMUTABLE" {
		t.Errorf("the repository a push made: %+v", r)
	}
	if err := srv.Push("eu-west-1", "team-b/pushed", Image{Digest: "sha256:e"}); err == nil || !strings.Contains(err.Error(), "name unknown") {
		t.Errorf("a push with no template: %v", err)
	}
	if srv.Rejected() != 0 {
		t.Errorf("%d signatures refused", srv.Rejected())
	}
}
