package types

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
)

// ecrName is the repository name pattern of ECR's API reference
// (CreateRepository): path segments of lower case letters and digits,
// joined inside a segment by ".", "_", "__" or dashes.
var ecrName = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// AwsEcrRepository: an image repository in AWS ECR for one app. The user
// chooses only the name (and may ask to adopt an existing repository where
// the platform allows it); tag immutability, scanning and encryption are
// the platform's and cannot be loosened from a team file.
func init() {
	schema := FromGoType("AwsEcrRepository", reflect.TypeOf(v1alpha1.AwsEcrRepositorySpec{}), finding.Error)
	schema.Fields["name"] = withCheck(schema.Fields["name"], func(v any) string { return CheckEcrNamePart(v.(string)) })
	RegisterResource(&ResourceType{
		Name:        "AwsEcrRepository",
		Kind:        "AwsEcrRepository",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "name",
		Schema:      schema,
	})
}

// CheckEcrName says what is wrong with a whole ECR repository name, by
// ECR's own rules, or "" when nothing is: names are checked before any
// call to AWS.
func CheckEcrName(s string) string {
	if len(s) < 2 || len(s) > 256 {
		return fmt.Sprintf("an ECR repository name has 2 to 256 characters, %q has %d", s, len(s))
	}
	return ecrPattern(s)
}

// CheckEcrNamePart checks the name a resource gives, which the platform's
// name prefix may lengthen: one character is enough (team-a/b is a valid
// repository), and the whole name is checked again with its prefix.
func CheckEcrNamePart(s string) string {
	if len(s) < 1 || len(s) > 256 {
		return fmt.Sprintf("an ECR repository name has 1 to 256 characters after the platform's prefix, %q has %d", s, len(s))
	}
	return ecrPattern(s)
}

func ecrPattern(s string) string {
	if !ecrName.MatchString(s) {
		return fmt.Sprintf("%q is not a valid ECR repository name (lower case letters and digits, joined by ., _, __ or dashes, in parts separated by /, each part starting and ending with a letter or digit)", s)
	}
	return ""
}
