package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Reading a registry: one listing a run (DescribeRepositories gives every
// repository's tag mutability, exclusions, scan on push, encryption and
// creation time), and, only for the repositories a run must look at
// closer, their tags, policies and the scanning ECR applies.

// list reads every repository of a registry, a page of 1,000 at a time.
func list(ctx context.Context, c *ecr.Client, s ecrScope) (map[string]ecrtypes.Repository, error) {
	out := map[string]ecrtypes.Repository{}
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{RegistryId: str(s.Registry), MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the repositories of region %s: %w", s.Region, err)
		}
		for _, r := range page.Repositories {
			out[aws.ToString(r.RepositoryName)] = r
		}
	}
	return out, nil
}

// tagsOf reads a repository's tags.
func tagsOf(ctx context.Context, c *ecr.Client, r ecrtypes.Repository) (map[string]string, error) {
	got, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: r.RepositoryArn})
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, t := range got.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m, nil
}

// scanning reads the scanning ECR applies to repositories (the registry's
// scanning configuration decides over each repository's deprecated scan on
// push), 25 names a call.
func scanning(ctx context.Context, c *ecr.Client, names []string) (map[string]ecrtypes.RepositoryScanningConfiguration, error) {
	out := map[string]ecrtypes.RepositoryScanningConfiguration{}
	for start := 0; start < len(names); start += 25 {
		end := min(start+25, len(names))
		got, err := c.BatchGetRepositoryScanningConfiguration(ctx, &ecr.BatchGetRepositoryScanningConfigurationInput{RepositoryNames: names[start:end]})
		if err != nil {
			return nil, fmt.Errorf("reading the scanning ECR applies: %w", err)
		}
		for _, s := range got.ScanningConfigurations {
			out[aws.ToString(s.RepositoryName)] = s
		}
	}
	return out, nil
}

// scans says whether a scan frequency scans new images.
func scans(f ecrtypes.ScanFrequency) bool {
	return f == ecrtypes.ScanFrequencyScanOnPush || f == ecrtypes.ScanFrequencyContinuousScan
}

// lifecycleOf and repositoryPolicyOf read a repository's policies; "" when
// it has none.
func lifecycleOf(ctx context.Context, c *ecr.Client, s ecrScope, name string) (string, error) {
	got, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(name), RegistryId: str(s.Registry)})
	var nf *ecrtypes.LifecyclePolicyNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(got.LifecyclePolicyText), nil
}

func repositoryPolicyOf(ctx context.Context, c *ecr.Client, s ecrScope, name string) (string, error) {
	got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(name), RegistryId: str(s.Registry)})
	var nf *ecrtypes.RepositoryPolicyNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(got.PolicyText), nil
}

// exclusions are a repository's tag mutability exclusion filters.
func exclusions(r ecrtypes.Repository) []string {
	var out []string
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		out = append(out, aws.ToString(f.Filter))
	}
	return out
}

func exclusionFilters(patterns []string) []ecrtypes.ImageTagMutabilityExclusionFilter {
	var out []ecrtypes.ImageTagMutabilityExclusionFilter
	for _, p := range patterns {
		out = append(out, ecrtypes.ImageTagMutabilityExclusionFilter{Filter: aws.String(p), FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard})
	}
	return out
}

func encryptionOf(r ecrtypes.Repository) (string, string) {
	if r.EncryptionConfiguration == nil {
		return "", ""
	}
	return string(r.EncryptionConfiguration.EncryptionType), aws.ToString(r.EncryptionConfiguration.KmsKey)
}

func scanOnPushOf(r ecrtypes.Repository) bool {
	return r.ImageScanningConfiguration != nil && r.ImageScanningConfiguration.ScanOnPush
}
