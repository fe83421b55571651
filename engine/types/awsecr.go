package types

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/schema"
)

// ecrName is the repository name pattern of ECR's API reference
// (CreateRepository): path segments of lower case letters and digits,
// joined inside a segment by ".", "_", "__" or dashes.
var ecrName = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// EcrSettingsKey is the key of a ShinyProxy target's spec that holds the
// platform's ECR settings.
const EcrSettingsKey = "laiki-ecr"

// AwsEcrRepository: an image repository in AWS ECR for one app. The user
// chooses only the name (and may ask to adopt an existing repository where
// the platform allows it); tag immutability, scanning and encryption are
// the platform's and cannot be loosened from a team file.
func init() {
	s := schema.FromGoType("AwsEcrRepository", reflect.TypeOf(v1alpha1.AwsEcrRepositorySpec{}), finding.Error)
	s.Fields["name"] = schema.WithCheck(s.Fields["name"], func(v any) string { return CheckEcrNamePart(v.(string)) })
	RegisterResource(&ResourceType{
		Name:        "AwsEcrRepository",
		Kind:        "AwsEcrRepository",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "name",
		Schema:      s,
		// The platform's settings for every repository of a ShinyProxy
		// target's apps (v1alpha1.EcrSettings).
		Settings:      EcrSettingsKey,
		CheckSettings: ecrSettings,
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

// ecrSettings checks the platform's laiki-ecr as ECR and Laiki will read
// it, so that a wrong value is an error at its line rather than a failure
// in AWS on every run.
func ecrSettings(v any) []schema.Problem {
	ecr, _ := v.(map[string]any)
	if ecr == nil {
		return nil
	}
	var ps []schema.Problem
	for key, allowed := range map[string][]string{
		"on-delete":        {"keep", "delete-if-empty", "force"},
		"adopt":            {"never", "on-request", "untagged", "always"},
		"tag-mutability":   {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"},
		"lifecycle-action": {"expire", "archive"},
	} {
		if v, ok := ecr[key].(string); ok && !slices.Contains(allowed, v) {
			ps = append(ps, schema.Problem{Path: []string{key}, Severity: finding.Error,
				Message: fmt.Sprintf("%s is %s, not %q", key, strings.Join(allowed, ", "), v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Path[0] < ps[j].Path[0] })
	ps = append(ps, ecrExclusions(ecr)...)
	return append(ps, ecrCreationTemplate(ecr)...)
}

// ecrExclusion is the pattern of an ECR tag mutability exclusion filter
// (API reference, ImageTagMutabilityExclusionFilter).
var ecrExclusion = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// ecrExclusions: IMMUTABLE_WITH_EXCLUSION names 1 to 5 wildcard filters
// ECR takes, and none that makes every tag mutable (*, **): the platform
// may loosen immutability for a few tags, never switch it off.
func ecrExclusions(ecr map[string]any) []schema.Problem {
	mode, _ := ecr["tag-mutability"].(string)
	list, _ := ecr["tag-mutability-exclusions"].([]any)
	at := func(i int) []string { return []string{"tag-mutability-exclusions", strconv.Itoa(i)} }
	switch {
	case mode == "IMMUTABLE_WITH_EXCLUSION" && len(list) == 0:
		return []schema.Problem{{Path: []string{"tag-mutability"}, Severity: finding.Error,
			Message: "IMMUTABLE_WITH_EXCLUSION needs tag-mutability-exclusions: the wildcards of the tags that may be overwritten (e.g. [dev-*])"}}
	case mode != "IMMUTABLE_WITH_EXCLUSION" && len(list) > 0:
		return []schema.Problem{{Path: []string{"tag-mutability-exclusions"}, Severity: finding.Error,
			Message: "tag-mutability-exclusions are for tag-mutability: IMMUTABLE_WITH_EXCLUSION; without it every tag is immutable"}}
	case len(list) > 5:
		return []schema.Problem{{Path: at(5), Severity: finding.Error, Message: "ECR takes at most 5 tag mutability exclusion filters"}}
	}
	var ps []schema.Problem
	for i, v := range list {
		f, _ := v.(string)
		switch {
		case !ecrExclusion.MatchString(f):
			ps = append(ps, schema.Problem{Path: at(i), Severity: finding.Error,
				Message: fmt.Sprintf("%q is not an ECR exclusion filter: 1 to 128 letters, digits, ., _, - and the wildcard *", f)})
		case strings.Trim(f, "*") == "":
			ps = append(ps, schema.Problem{Path: at(i), Severity: finding.Error,
				Message: fmt.Sprintf("%q would make every tag mutable: name the tags that may move (dev-*, latest)", f)})
		}
	}
	return ps
}

// ecrCreationTemplate: a creation template is for the platform's name
// prefix; without one it would be ECR's ROOT template, every repository of
// the registry's.
func ecrCreationTemplate(ecr map[string]any) []schema.Problem {
	list, _ := ecr["creation-template"].([]any)
	if len(list) == 0 {
		return nil
	}
	var ps []schema.Problem
	if p, _ := ecr["name-prefix"].(string); strings.Trim(p, "/") == "" {
		ps = append(ps, schema.Problem{Path: []string{"creation-template"}, Severity: finding.Error,
			Message: "a creation template is for the repositories under the target's name-prefix: set name-prefix (e.g. team-a/)"})
	}
	for i, v := range list {
		if s, _ := v.(string); !slices.Contains([]string{"CREATE_ON_PUSH", "REPLICATION", "PULL_THROUGH_CACHE"}, s) {
			ps = append(ps, schema.Problem{Path: []string{"creation-template", strconv.Itoa(i)}, Severity: finding.Error,
				Message: fmt.Sprintf("a creation template applies to CREATE_ON_PUSH, REPLICATION or PULL_THROUGH_CACHE, not %q", s)})
		}
	}
	return ps
}
