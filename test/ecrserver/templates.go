package ecrserver

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Template is a repository creation template: the settings ECR gives a
// repository it makes itself (create on push, replication, pull-through
// cache) under the template's prefix.
type Template struct {
	Prefix           string
	Description      string
	AppliedFor       []string
	TagMutability    string
	Exclusions       []string
	EncryptionType   string
	KMSKey           string
	LifecyclePolicy  string
	RepositoryPolicy string
	ResourceTags     map[string]string
	CustomRoleArn    string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// regionKey is region/prefix: templates are a registry's, per region.
	regionKey string
}

// templatePrefix is the pattern of a template's prefix (API reference,
// CreateRepositoryCreationTemplate): a repository namespace, or ROOT.
var templatePrefix = regexp.MustCompile(`^((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*/?|ROOT)$`)

// Template returns a copy of a region's template for a prefix, or nil.
func (s *Server) Template(region, prefix string) *Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.templates[region+"/"+prefix]
	if !ok {
		return nil
	}
	c := *t
	return &c
}

// ChangeTemplate changes a template out of band.
func (s *Server) ChangeTemplate(region, prefix string, f func(*Template)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.templates[region+"/"+prefix]; ok {
		f(t)
	}
}

// Push pushes an image as a client of the registry would: to an existing
// repository, or, when there is none, to one ECR creates from the creation
// template for the name's prefix that applies to CREATE_ON_PUSH (the
// longest prefix, else ROOT); without such a template the push fails.
func (s *Server) Push(region, name string, img Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img.PushedAt.IsZero() {
		img.PushedAt = time.Now()
	}
	if r, ok := s.repos[region+"/"+name]; ok {
		r.ImageList = append(r.ImageList, img)
		return nil
	}
	t := s.templateFor(region, name, "CREATE_ON_PUSH")
	if t == nil {
		return fmt.Errorf("name unknown: the repository with name '%s' does not exist in the registry with id '%s'", name, Account)
	}
	r := &Repository{Name: name, Region: region, CreatedAt: time.Now(), TagMutability: t.TagMutability, Exclusions: t.Exclusions,
		EncryptionType: t.EncryptionType, KMSKey: t.KMSKey, LifecyclePolicy: t.LifecyclePolicy, RepositoryPolicy: t.RepositoryPolicy,
		Tags: map[string]string{}, ImageList: []Image{img}}
	for k, v := range t.ResourceTags {
		r.Tags[k] = v
	}
	s.repos[region+"/"+name] = r
	return nil
}

func (s *Server) templateFor(region, name, scenario string) *Template {
	var best *Template
	for _, t := range s.templates {
		if !strings.HasPrefix(t.regionKey, region+"/") || !slices.Contains(t.AppliedFor, scenario) {
			continue
		}
		if t.Prefix == "ROOT" && best == nil {
			best = t
		}
		if t.Prefix != "ROOT" && strings.HasPrefix(name, t.Prefix+"/") && (best == nil || best.Prefix == "ROOT" || len(t.Prefix) > len(best.Prefix)) {
			best = t
		}
	}
	return best
}

func (t *Template) json() map[string]any {
	enc := map[string]any{"encryptionType": t.EncryptionType}
	if t.KMSKey != "" {
		enc["kmsKey"] = t.KMSKey
	}
	out := map[string]any{"prefix": t.Prefix, "description": t.Description, "appliedFor": t.AppliedFor,
		"imageTagMutability": t.TagMutability, "encryptionConfiguration": enc, "resourceTags": tagsOut(t.ResourceTags),
		"createdAt": float64(t.CreatedAt.Unix()), "updatedAt": float64(t.UpdatedAt.Unix())}
	if len(t.Exclusions) > 0 {
		out["imageTagMutabilityExclusionFilters"] = filtersOut(t.Exclusions)
	}
	for k, v := range map[string]string{"lifecyclePolicy": t.LifecyclePolicy, "repositoryPolicy": t.RepositoryPolicy, "customRoleArn": t.CustomRoleArn} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// readTemplate reads a template's settings from a create or update request
// onto t, checked as ECR checks them.
func readTemplate(t *Template, in map[string]any) *apiError {
	if v, ok := in["description"].(string); ok {
		t.Description = v
	}
	if list, ok := in["appliedFor"].([]any); ok {
		t.AppliedFor = nil
		for _, a := range list {
			v, _ := a.(string)
			if v != "CREATE_ON_PUSH" && v != "REPLICATION" && v != "PULL_THROUGH_CACHE" {
				return fail(400, "InvalidParameterException", "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must satisfy enum value set: [REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH]'")
			}
			t.AppliedFor = append(t.AppliedFor, v)
		}
	}
	if len(t.AppliedFor) == 0 {
		return fail(400, "InvalidParameterException", "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must have length greater than or equal to 1'")
	}
	if _, ok := in["imageTagMutability"]; ok || t.TagMutability == "" {
		m, filters, e := mutability(in, "MUTABLE")
		if e != nil {
			return e
		}
		t.TagMutability, t.Exclusions = m, filters
	}
	if ec, ok := in["encryptionConfiguration"].(map[string]any); ok {
		t.EncryptionType, t.KMSKey = str(ec, "encryptionType"), str(ec, "kmsKey")
	}
	if t.EncryptionType == "" {
		t.EncryptionType = "AES256"
	}
	if v, ok := in["lifecyclePolicy"].(string); ok {
		if v != "" {
			if _, e := parseLifecycle(v); e != nil {
				return e
			}
		}
		t.LifecyclePolicy = v
	}
	if v, ok := in["repositoryPolicy"].(string); ok {
		t.RepositoryPolicy = v
	}
	if v, ok := in["customRoleArn"].(string); ok {
		t.CustomRoleArn = v
	}
	if _, ok := in["resourceTags"]; ok {
		t.ResourceTags = tagsIn(in["resourceTags"])
	}
	return nil
}

func noTemplate(prefix string) *apiError {
	return fail(400, "TemplateNotFoundException", "The specified repository creation template with prefix '%s' does not exist in the registry with id '%s'", prefix, Account)
}

func (s *Server) createTemplate(region string, in map[string]any) (any, *apiError) {
	prefix := strings.TrimSuffix(str(in, "prefix"), "/")
	if !templatePrefix.MatchString(str(in, "prefix")) || len(prefix) > 256 {
		return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'prefix' failed to satisfy constraint: 'must satisfy regular expression '%s''", templatePrefix)
	}
	if _, ok := s.templates[region+"/"+prefix]; ok {
		return nil, fail(400, "TemplateAlreadyExistsException", "The repository creation template with prefix '%s' already exists in the registry with id '%s'", prefix, Account)
	}
	t := &Template{Prefix: prefix, regionKey: region + "/" + prefix, CreatedAt: time.Now(), UpdatedAt: time.Now(), ResourceTags: map[string]string{}}
	if e := readTemplate(t, in); e != nil {
		return nil, e
	}
	s.templates[t.regionKey] = t
	return map[string]any{"registryId": Account, "repositoryCreationTemplate": t.json()}, nil
}

func (s *Server) updateTemplate(region string, in map[string]any) (any, *apiError) {
	prefix := strings.TrimSuffix(str(in, "prefix"), "/")
	t, ok := s.templates[region+"/"+prefix]
	if !ok {
		return nil, noTemplate(prefix)
	}
	c := *t
	if e := readTemplate(&c, in); e != nil {
		return nil, e
	}
	c.UpdatedAt = time.Now()
	*t = c
	return map[string]any{"registryId": Account, "repositoryCreationTemplate": t.json()}, nil
}

func (s *Server) deleteTemplate(region string, in map[string]any) (any, *apiError) {
	prefix := strings.TrimSuffix(str(in, "prefix"), "/")
	t, ok := s.templates[region+"/"+prefix]
	if !ok {
		return nil, noTemplate(prefix)
	}
	delete(s.templates, region+"/"+prefix)
	return map[string]any{"registryId": Account, "repositoryCreationTemplate": t.json()}, nil
}

func (s *Server) describeTemplates(region string, in map[string]any) (any, *apiError) {
	var want []string
	if list, ok := in["prefixes"].([]any); ok {
		for _, p := range list {
			v, _ := p.(string)
			want = append(want, strings.TrimSuffix(v, "/"))
		}
	}
	out := []any{}
	var keys []string
	for k, t := range s.templates {
		if strings.HasPrefix(k, region+"/") && (len(want) == 0 || slices.Contains(want, t.Prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, s.templates[k].json())
	}
	return map[string]any{"registryId": Account, "repositoryCreationTemplates": out}, nil
}
