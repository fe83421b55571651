package workflow_test

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/types"
	"github.com/laiki-platform/laiki/engine/workflow"
)

// A name the platform's prefix lengthens may be one character (team-a/b is
// a valid repository); the whole name keeps ECR's 2 characters at least,
// and ECR's current pattern (__ and runs of dashes join words).
func TestEcrNames(t *testing.T) {
	for name, ok := range map[string]bool{"b": true, "a__b": true, "a--b": true, "A": false, "-a": false, "a/": false, strings.Repeat("a", 257): false} {
		if got := workflow.CheckEcrNamePart(name) == ""; got != ok {
			t.Errorf("part %q: valid %v, want %v (%s)", name, got, ok, workflow.CheckEcrNamePart(name))
		}
	}
	for name, ok := range map[string]bool{"team-a/b": true, "b": false, "team-a//b": false} {
		if got := workflow.CheckEcrName(name) == ""; got != ok {
			t.Errorf("name %q: valid %v, want %v", name, got, ok)
		}
	}
	rt, _ := types.Resource("AwsEcrRepository")
	if ps := rt.Schema.Check(map[string]any{"name": "b"}); len(ps) != 0 {
		t.Errorf("a one-character name is refused: %+v", ps)
	}
	if ps := rt.Schema.Check(map[string]any{"name": "b", "image-tag-mutability": "MUTABLE"}); len(ps) == 0 {
		t.Error("a team sets its own tag mutability")
	}
}

// laiki-ecr is checked as ECR and Laiki read it: the platform may exempt a
// few tags from immutability with ECR's wildcards, never every tag.
func TestEcrSettings(t *testing.T) {
	sp, _ := types.Target("ShinyProxy")
	check := func(ecr map[string]any) []string {
		var out []string
		for _, p := range sp.Problems(map[string]any{"fqdn": "a.example.com", "laiki-ecr": ecr}) {
			if len(p.Path) > 0 && p.Path[0] == "laiki-ecr" {
				out = append(out, strings.Join(p.Path[1:], ".")+": "+p.Message)
			}
		}
		return out
	}
	for _, tc := range []struct {
		ecr  map[string]any
		want string
	}{
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION", "tag-mutability-exclusions": []any{"dev-*", "latest"}}, ""},
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION", "tag-mutability-exclusions": []any{"*"}}, "tag-mutability-exclusions.0: \"*\" would make every tag mutable"},
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION", "tag-mutability-exclusions": []any{"**"}}, "would make every tag mutable"},
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION", "tag-mutability-exclusions": []any{"dev/*"}}, "is not an ECR exclusion filter"},
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION"}, "needs tag-mutability-exclusions"},
		{map[string]any{"tag-mutability-exclusions": []any{"dev-*"}}, "are for tag-mutability: IMMUTABLE_WITH_EXCLUSION"},
		{map[string]any{"tag-mutability": "IMMUTABLE_WITH_EXCLUSION", "tag-mutability-exclusions": []any{"a", "b", "c", "d", "e", "f"}}, "at most 5"},
		{map[string]any{"tag-mutability": "MUTABLE"}, "tag-mutability: tag-mutability is IMMUTABLE, IMMUTABLE_WITH_EXCLUSION"},
		{map[string]any{"adopt": "sometimes"}, "adopt: adopt is never, on-request, untagged, always"},
		{map[string]any{"lifecycle-action": "delete"}, "lifecycle-action is expire, archive"},
		{map[string]any{"creation-template": []any{"CREATE_ON_PUSH"}}, "set name-prefix"},
		{map[string]any{"name-prefix": "team-a/", "creation-template": []any{"ON_PULL"}}, "creation-template.0: a creation template applies to"},
		{map[string]any{"name-prefix": "team-a/", "creation-template": []any{"CREATE_ON_PUSH"}, "adopt": "on-request", "lifecycle-action": "archive"}, ""},
	} {
		got := strings.Join(check(tc.ecr), "\n")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.ecr, got, tc.want)
		}
	}
}
