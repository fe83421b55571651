package workflow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

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

func (r *EcrRepository) node() *yaml.Node       { return presentNode(reflect.ValueOf(*r)) }
func (t *EcrCreationTemplate) node() *yaml.Node { return presentNode(reflect.ValueOf(*t)) }

// presentNode renders a desired state as the mapping of its JSON keys, in
// the order of its fields, without the values that say nothing ("", false,
// an empty list or map): its keys are spelled once, in its tags, for the
// render and for the provisioner that reads it back.
func presentNode(v reflect.Value) *yaml.Node {
	n := mapping()
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		f := v.Field(i)
		if key == "" || key == "-" || f.IsZero() || ((f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0) {
			continue
		}
		var value *yaml.Node
		switch f.Kind() {
		case reflect.Struct:
			value = presentNode(f)
		case reflect.Map:
			value = sortedMapping(f.Interface().(map[string]string), str)
		default:
			value = node(f.Interface())
		}
		n.Content = append(n.Content, str(key), value)
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
