package types

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
)

// ecrName is the repository name pattern that ECR's API documents.
var ecrName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// AwsEcrRepository: an image repository in AWS ECR for one app. The user
// chooses only the name; tag immutability, scanning and encryption are the
// platform's and cannot be loosened from a team file.
func init() {
	schema := FromGoType("AwsEcrRepository", reflect.TypeOf(v1alpha1.AwsEcrRepositorySpec{}), finding.Error)
	schema.Fields["name"] = withCheck(schema.Fields["name"], func(v any) string { return CheckEcrName(v.(string)) })
	RegisterResource(&ResourceType{
		Name:        "AwsEcrRepository",
		Kind:        "AwsEcrRepository",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "name",
		Schema:      schema,
	})
}

// CheckEcrName says what is wrong with an ECR repository name, by ECR's own
// rules, or "" when nothing is: names are checked before any call to AWS.
func CheckEcrName(s string) string {
	if len(s) < 2 || len(s) > 256 {
		return fmt.Sprintf("an ECR repository name has 2 to 256 characters, %q has %d", s, len(s))
	}
	if !ecrName.MatchString(s) {
		return fmt.Sprintf("%q is not a valid ECR repository name (lower case letters, digits and . _ - /, each part starting and ending with a letter or digit)", s)
	}
	return ""
}
