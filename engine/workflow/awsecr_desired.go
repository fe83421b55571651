package workflow

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"
)

// The desired state of the AwsEcrRepository workflow's externals, one Go
// type each, shared with the provisioner that makes them in AWS
// (reconcile/ecr*.go reads them back with DecodeExternal): the keys below
// are the rendered ones, which `laiki render` shows and the provisioner
// reads, so the two cannot drift apart.

// EcrRepository is the desired state of one ECR repository.
type EcrRepository struct {
	Name             string            `json:"repository-name"`
	Region           string            `json:"region"`
	RegistryID       string            `json:"registry-id"`
	NamePrefix       string            `json:"name-prefix"`
	TagMutability    string            `json:"image-tag-mutability"`
	Exclusions       []string          `json:"image-tag-mutability-exclusion-filters"`
	Scanning         EcrScanning       `json:"image-scanning-configuration"`
	Encryption       EcrEncryption     `json:"encryption-configuration"`
	LifecyclePolicy  string            `json:"lifecycle-policy"`
	RepositoryPolicy string            `json:"repository-policy"`
	OnDelete         string            `json:"on-delete"`
	Adopt            string            `json:"adopt"`
	AdoptRequested   bool              `json:"adopt-requested"`
	DeleteAdopted    bool              `json:"delete-adopted"`
	Tags             map[string]string `json:"tags"`
}

// EcrScanning is a repository's image scanning configuration.
type EcrScanning struct {
	ScanOnPush bool `json:"scan-on-push"`
}

// EcrEncryption is a repository's (or template's) encryption: AES256, or
// KMS with a key.
type EcrEncryption struct {
	Type   string `json:"encryption-type"`
	KMSKey string `json:"kms-key"`
}

// EcrCreationTemplate is the desired state of a target's repository
// creation template.
type EcrCreationTemplate struct {
	Prefix           string        `json:"prefix"`
	Region           string        `json:"region"`
	RegistryID       string        `json:"registry-id"`
	AppliedFor       []string      `json:"applied-for"`
	CustomRoleArn    string        `json:"custom-role-arn"`
	TagMutability    string        `json:"image-tag-mutability"`
	Exclusions       []string      `json:"image-tag-mutability-exclusion-filters"`
	Encryption       EcrEncryption `json:"encryption-configuration"`
	LifecyclePolicy  string        `json:"lifecycle-policy"`
	RepositoryPolicy string        `json:"repository-policy"`
	Target           string        `json:"target"`
}

// node is the rendered form: the keys that say something, in this order.
func (r *EcrRepository) node() *yaml.Node {
	return present(
		"repository-name", r.Name,
		"region", r.Region,
		"registry-id", r.RegistryID,
		"name-prefix", r.NamePrefix,
		"image-tag-mutability", r.TagMutability,
		"image-tag-mutability-exclusion-filters", r.Exclusions,
		"image-scanning-configuration", mapping("scan-on-push", r.Scanning.ScanOnPush),
		"encryption-configuration", r.Encryption.node(),
		"lifecycle-policy", r.LifecyclePolicy,
		"repository-policy", r.RepositoryPolicy,
		"on-delete", r.OnDelete,
		"adopt", r.Adopt,
		"adopt-requested", r.AdoptRequested,
		"delete-adopted", r.DeleteAdopted,
		"tags", stringMap(r.Tags),
	)
}

func (t *EcrCreationTemplate) node() *yaml.Node {
	return present(
		"prefix", t.Prefix,
		"region", t.Region,
		"registry-id", t.RegistryID,
		"applied-for", t.AppliedFor,
		"custom-role-arn", t.CustomRoleArn,
		"image-tag-mutability", t.TagMutability,
		"image-tag-mutability-exclusion-filters", t.Exclusions,
		"encryption-configuration", t.Encryption.node(),
		"lifecycle-policy", t.LifecyclePolicy,
		"repository-policy", t.RepositoryPolicy,
		"target", t.Target,
	)
}

func (e EcrEncryption) node() *yaml.Node {
	if e.KMSKey != "" {
		return mapping("encryption-type", e.Type, "kms-key", e.KMSKey)
	}
	return mapping("encryption-type", e.Type)
}

// stringMap is a mapping with sorted keys.
func stringMap(m map[string]string) *yaml.Node {
	n := mapping()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		set(n, k, str(m[k]))
	}
	return n
}

// DecodeExternal reads an External's desired state into the Go type of its
// kind (EcrRepository, EcrCreationTemplate).
func DecodeExternal(x External, v any) error {
	raw, err := json.Marshal(x.Desired)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	return nil
}
