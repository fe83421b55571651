package ecrserver

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lifecycle and repository policies, and lifecycle policy previews, as ECR
// checks and answers them.

func (s *Server) putLifecyclePolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	text := str(in, "lifecyclePolicyText")
	if _, e := parseLifecycle(text); e != nil {
		return nil, e
	}
	r.LifecyclePolicy = text
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": r.LifecyclePolicy}, nil
}

func noLifecyclePolicy(r *Repository) *apiError {
	return fail(400, "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.Name, Account)
}

func (s *Server) getLifecyclePolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if r.LifecyclePolicy == "" {
		return nil, noLifecyclePolicy(r)
	}
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": r.LifecyclePolicy,
		"lastEvaluatedAt": float64(time.Now().Unix())}, nil
}

func (s *Server) deleteLifecyclePolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if r.LifecyclePolicy == "" {
		return nil, noLifecyclePolicy(r)
	}
	text := r.LifecyclePolicy
	r.LifecyclePolicy = ""
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": text}, nil
}

func noRepositoryPolicy(r *Repository) *apiError {
	return fail(400, "RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", r.Name, Account)
}

func (s *Server) setRepositoryPolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	text := str(in, "policyText")
	var doc map[string]any
	if len(text) > 10240 || json.Unmarshal([]byte(text), &doc) != nil || doc["Statement"] == nil {
		return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
	}
	r.RepositoryPolicy = text
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "policyText": r.RepositoryPolicy}, nil
}

func (s *Server) getRepositoryPolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if r.RepositoryPolicy == "" {
		return nil, noRepositoryPolicy(r)
	}
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "policyText": r.RepositoryPolicy}, nil
}

func (s *Server) deleteRepositoryPolicy(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if r.RepositoryPolicy == "" {
		return nil, noRepositoryPolicy(r)
	}
	text := r.RepositoryPolicy
	r.RepositoryPolicy = ""
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "policyText": text}, nil
}

// lifecycleRule is one rule of a lifecycle policy, as ECR reads it.
type lifecycleRule struct {
	RulePriority int `json:"rulePriority"`
	Selection    struct {
		TagStatus      string   `json:"tagStatus"`
		TagPrefixList  []string `json:"tagPrefixList"`
		TagPatternList []string `json:"tagPatternList"`
		StorageClass   string   `json:"storageClass"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit"`
		CountNumber    int      `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type               string `json:"type"`
		TargetStorageClass string `json:"targetStorageClass"`
	} `json:"action"`
}

func invalidLifecycle(format string, args ...any) *apiError {
	return fail(400, "InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: %s'", fmt.Sprintf(format, args...))
}

// parseLifecycle checks a lifecycle policy as ECR does before it takes it
// (user guide, lifecycle policy properties), and returns its rules by
// priority.
func parseLifecycle(text string) ([]lifecycleRule, *apiError) {
	if len(text) < 100 || len(text) > 30720 {
		return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'Member must have length between 100 and 30720'")
	}
	var doc struct {
		Rules []lifecycleRule `json:"rules"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, invalidLifecycle("not valid JSON: %v", err)
	}
	if len(doc.Rules) == 0 {
		return nil, invalidLifecycle("object has missing required properties ([\"rules\"])")
	}
	rules := doc.Rules
	sort.Slice(rules, func(i, j int) bool { return rules[i].RulePriority < rules[j].RulePriority })
	for i, r := range rules {
		if e := checkRule(r, i > 0 && rules[i-1].RulePriority == r.RulePriority, i == len(rules)-1); e != nil {
			return nil, e
		}
	}
	return rules, nil
}

func checkRule(r lifecycleRule, duplicate, last bool) *apiError {
	sel := r.Selection
	switch {
	case r.RulePriority < 1 || duplicate:
		return invalidLifecycle("rulePriority %d must be a unique positive integer", r.RulePriority)
	case sel.TagStatus != "tagged" && sel.TagStatus != "untagged" && sel.TagStatus != "any":
		return invalidLifecycle("tagStatus %q is not tagged, untagged or any", sel.TagStatus)
	case sel.TagStatus == "tagged" && len(sel.TagPrefixList) == 0 && len(sel.TagPatternList) == 0:
		return invalidLifecycle("a rule with tagStatus tagged needs tagPrefixList or tagPatternList")
	case sel.TagStatus != "tagged" && (len(sel.TagPrefixList) > 0 || len(sel.TagPatternList) > 0):
		return invalidLifecycle("tagPrefixList and tagPatternList are for tagStatus tagged only")
	case sel.TagStatus == "any" && !last:
		return invalidLifecycle("a rule with tagStatus any must have the highest rulePriority")
	case sel.CountNumber < 1:
		return invalidLifecycle("countNumber must be a positive integer")
	}
	switch sel.CountType {
	case "imageCountMoreThan":
		if sel.CountUnit != "" {
			return invalidLifecycle("countUnit is not allowed with countType imageCountMoreThan")
		}
	case "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned":
		if sel.CountUnit != "days" {
			return invalidLifecycle("countType %s needs countUnit days", sel.CountType)
		}
	default:
		return invalidLifecycle("countType %q is not imageCountMoreThan, sinceImagePushed, sinceImagePulled or sinceImageTransitioned", sel.CountType)
	}
	switch {
	case r.Action.Type == "expire" && r.Action.TargetStorageClass == "":
	case r.Action.Type == "transition" && r.Action.TargetStorageClass == "archive":
	default:
		return invalidLifecycle("action must be {type: expire} or {type: transition, targetStorageClass: archive}")
	}
	return nil
}

// wildcard matches s against a pattern where * is any run of characters.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// selects says whether a rule's tag selection takes an image.
func (r lifecycleRule) selects(img Image) bool {
	class := strings.ToUpper(r.Selection.StorageClass)
	if class == "" {
		class = "STANDARD"
	}
	if storage(img) != class {
		return false
	}
	switch r.Selection.TagStatus {
	case "untagged":
		return len(img.Tags) == 0
	case "any":
		return true
	}
	for _, t := range img.Tags {
		for _, p := range r.Selection.TagPrefixList {
			if strings.HasPrefix(t, p) {
				return true
			}
		}
		for _, p := range r.Selection.TagPatternList {
			if wildcard(p, t) {
				return true
			}
		}
	}
	return false
}

func storage(img Image) string {
	if img.StorageClass == "" {
		return "STANDARD"
	}
	return img.StorageClass
}

// acted is an image a lifecycle policy would expire or archive.
type acted struct {
	img  Image
	rule lifecycleRule
}

// evaluate applies a lifecycle policy's rules to a repository's images as
// ECR does: by priority, an image that a rule selects by its tags is that
// rule's alone (a later rule never acts on it), and the rule acts on those
// beyond its count or older than its days.
func evaluate(rules []lifecycleRule, images []Image, now time.Time) []acted {
	taken := make([]bool, len(images))
	var out []acted
	for _, r := range rules {
		var mine []int
		for i, img := range images {
			if !taken[i] && r.selects(img) {
				taken[i] = true
				mine = append(mine, i)
			}
		}
		sort.Slice(mine, func(a, b int) bool { return images[mine[a]].PushedAt.After(images[mine[b]].PushedAt) })
		for n, i := range mine {
			img := images[i]
			switch r.Selection.CountType {
			case "imageCountMoreThan":
				if n < r.Selection.CountNumber {
					continue
				}
			default: // since ... days (pushes stand in for pulls and transitions)
				if now.Sub(img.PushedAt) <= time.Duration(r.Selection.CountNumber)*24*time.Hour {
					continue
				}
			}
			out = append(out, acted{img, r})
		}
	}
	return out
}

// preview is a lifecycle policy preview: its results are fixed when it
// starts and given once it is COMPLETE.
type preview struct {
	policy  string
	readyAt time.Time
	results []acted
}

func (s *Server) startLifecyclePolicyPreview(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	key := region + "/" + r.Name
	if p, ok := s.previews[key]; ok && time.Now().Before(p.readyAt) {
		return nil, fail(400, "LifecyclePolicyPreviewInProgressException", "The previous lifecycle policy preview request has not completed. Wait and try again.")
	}
	text := str(in, "lifecyclePolicyText")
	if text == "" {
		if text = r.LifecyclePolicy; text == "" {
			return nil, noLifecyclePolicy(r)
		}
	}
	rules, e := parseLifecycle(text)
	if e != nil {
		return nil, e
	}
	s.previews[key] = &preview{policy: text, readyAt: time.Now().Add(s.PreviewDelay), results: evaluate(rules, r.ImageList, time.Now())}
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": text, "status": "IN_PROGRESS"}, nil
}

func (s *Server) getLifecyclePolicyPreview(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	p, ok := s.previews[region+"/"+r.Name]
	if !ok {
		return nil, fail(400, "LifecyclePolicyPreviewNotFoundException", "There is no dry run for this repository.")
	}
	out := map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": p.policy, "status": "IN_PROGRESS"}
	if time.Now().Before(p.readyAt) {
		return out, nil
	}
	out["status"] = "COMPLETE"
	start, _ := strconv.Atoi(str(in, "nextToken"))
	max := 100
	if m, ok := in["maxResults"].(float64); ok && m > 0 {
		max = int(m)
	}
	results := []any{}
	expiring, archiving := 0, 0
	for i, a := range p.results {
		action := map[string]any{"type": "EXPIRE"}
		if a.rule.Action.Type == "transition" {
			action = map[string]any{"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}
			archiving++
		} else {
			expiring++
		}
		if i >= start && i < start+max {
			results = append(results, map[string]any{"imageDigest": a.img.Digest, "imageTags": a.img.Tags, "imagePushedAt": float64(a.img.PushedAt.Unix()),
				"action": action, "appliedRulePriority": a.rule.RulePriority, "storageClass": storage(a.img)})
		}
	}
	if start+max < len(p.results) {
		out["nextToken"] = strconv.Itoa(start + max)
	}
	summary := map[string]any{"expiringImageTotalCount": expiring}
	if archiving > 0 {
		summary["transitioningImageTotalCounts"] = []any{map[string]any{"targetStorageClass": "ARCHIVE", "imageTotalCount": archiving}}
	}
	out["previewResults"], out["summary"] = results, summary
	return out, nil
}
