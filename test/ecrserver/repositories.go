package ecrserver

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type handler func(s *Server, region string, in map[string]any) (any, *apiError)

// operations are the ECR operations the server serves; any other is
// answered UnknownOperationException.
var operations = map[string]handler{
	"CreateRepository":                        (*Server).createRepository,
	"DescribeRepositories":                    (*Server).describeRepositories,
	"DeleteRepository":                        (*Server).deleteRepository,
	"PutImageTagMutability":                   (*Server).putImageTagMutability,
	"PutImageScanningConfiguration":           (*Server).putImageScanningConfiguration,
	"ListTagsForResource":                     (*Server).listTags,
	"TagResource":                             (*Server).tagResource,
	"UntagResource":                           (*Server).untagResource,
	"ListImages":                              (*Server).listImages,
	"PutLifecyclePolicy":                      (*Server).putLifecyclePolicy,
	"GetLifecyclePolicy":                      (*Server).getLifecyclePolicy,
	"DeleteLifecyclePolicy":                   (*Server).deleteLifecyclePolicy,
	"StartLifecyclePolicyPreview":             (*Server).startLifecyclePolicyPreview,
	"GetLifecyclePolicyPreview":               (*Server).getLifecyclePolicyPreview,
	"SetRepositoryPolicy":                     (*Server).setRepositoryPolicy,
	"GetRepositoryPolicy":                     (*Server).getRepositoryPolicy,
	"DeleteRepositoryPolicy":                  (*Server).deleteRepositoryPolicy,
	"GetRegistryScanningConfiguration":        (*Server).getRegistryScanning,
	"PutRegistryScanningConfiguration":        (*Server).putRegistryScanning,
	"BatchGetRepositoryScanningConfiguration": (*Server).batchGetRepositoryScanning,
	"CreateRepositoryCreationTemplate":        (*Server).createTemplate,
	"DescribeRepositoryCreationTemplates":     (*Server).describeTemplates,
	"UpdateRepositoryCreationTemplate":        (*Server).updateTemplate,
	"DeleteRepositoryCreationTemplate":        (*Server).deleteTemplate,
}

func (s *Server) dispatch(op, region string, in map[string]any) (any, *apiError) {
	h, ok := operations[op]
	if !ok {
		return nil, fail(400, "UnknownOperationException", "operation %q is not served here", op)
	}
	return h(s, region, in)
}

func str(in map[string]any, k string) string { v, _ := in[k].(string); return v }

// repositoryName is the pattern of a repository name in ECR's API reference
// (2 to 256 characters).
var repositoryName = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

func invalidName(name string) *apiError {
	if len(name) < 2 || len(name) > 256 || !repositoryName.MatchString(name) {
		return fail(400, "InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repositoryName)
	}
	return nil
}

func (s *Server) repo(region string, in map[string]any) (*Repository, *apiError) {
	name := str(in, "repositoryName")
	r, ok := s.repos[region+"/"+name]
	if !ok {
		return nil, fail(400, "RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", name, Account)
	}
	return r, nil
}

func arn(region, name string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, Account, name)
}

func filtersOut(patterns []string) []any {
	out := []any{}
	for _, p := range patterns {
		out = append(out, map[string]any{"filter": p, "filterType": "WILDCARD"})
	}
	return out
}

func (r *Repository) json() map[string]any {
	enc := map[string]any{"encryptionType": r.EncryptionType}
	if r.KMSKey != "" {
		enc["kmsKey"] = r.KMSKey
	}
	out := map[string]any{
		"repositoryArn":              arn(r.Region, r.Name),
		"registryId":                 Account,
		"repositoryName":             r.Name,
		"repositoryUri":              fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, r.Region, r.Name),
		"createdAt":                  float64(r.CreatedAt.Unix()),
		"imageTagMutability":         r.TagMutability,
		"imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush},
		"encryptionConfiguration":    enc,
	}
	if len(r.Exclusions) > 0 {
		out["imageTagMutabilityExclusionFilters"] = filtersOut(r.Exclusions)
	}
	return out
}

func tagsIn(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, t := range list {
		m, _ := t.(map[string]any)
		out[str(m, "Key")] = str(m, "Value")
	}
	return out
}

func tagsOut(m map[string]string) []any {
	keys := slices.Sorted(maps.Keys(m))
	out := []any{}
	for _, k := range keys {
		out = append(out, map[string]any{"Key": k, "Value": m[k]})
	}
	return out
}

// exclusionFilter is the pattern of one imageTagMutabilityExclusionFilter
// (API reference, ImageTagMutabilityExclusionFilter).
var exclusionFilter = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// mutability reads imageTagMutability and its exclusion filters as ECR
// checks them: filters (1 to 5 wildcards) with a *_WITH_EXCLUSION setting
// only, and always with one.
func mutability(in map[string]any, def string) (string, []string, *apiError) {
	m := str(in, "imageTagMutability")
	if m == "" {
		m = def
	}
	switch m {
	case "MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION":
	default:
		return "", nil, fail(400, "InvalidParameterException", "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'")
	}
	list, given := in["imageTagMutabilityExclusionFilters"].([]any)
	var filters []string
	for _, f := range list {
		fm, _ := f.(map[string]any)
		if str(fm, "filterType") != "WILDCARD" || !exclusionFilter.MatchString(str(fm, "filter")) {
			return "", nil, fail(400, "InvalidParameterException", "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'filter must satisfy regular expression '%s' and filterType must be WILDCARD'", exclusionFilter)
		}
		filters = append(filters, str(fm, "filter"))
	}
	withExclusion := strings.HasSuffix(m, "_WITH_EXCLUSION")
	switch {
	case given && len(filters) > 5:
		return "", nil, fail(400, "InvalidParameterException", "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'Member must have length less than or equal to 5'")
	case withExclusion && len(filters) == 0:
		return "", nil, fail(400, "InvalidParameterException", "imageTagMutabilityExclusionFilters must be specified when imageTagMutability is %s", m)
	case !withExclusion && given:
		return "", nil, fail(400, "InvalidParameterException", "imageTagMutabilityExclusionFilters may only be specified with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not %s", m)
	}
	return m, filters, nil
}

func (s *Server) createRepository(region string, in map[string]any) (any, *apiError) {
	name := str(in, "repositoryName")
	if e := invalidName(name); e != nil {
		return nil, e
	}
	if _, ok := s.repos[region+"/"+name]; ok {
		return nil, fail(400, "RepositoryAlreadyExistsException", "The repository with name '%s' already exists in the registry with id '%s'", name, Account)
	}
	m, filters, e := mutability(in, "MUTABLE")
	if e != nil {
		return nil, e
	}
	r := &Repository{Name: name, Region: region, CreatedAt: time.Now(), TagMutability: m, Exclusions: filters, EncryptionType: "AES256", Tags: tagsIn(in["tags"])}
	if sc, ok := in["imageScanningConfiguration"].(map[string]any); ok {
		r.ScanOnPush, _ = sc["scanOnPush"].(bool)
	}
	if ec, ok := in["encryptionConfiguration"].(map[string]any); ok {
		r.EncryptionType, r.KMSKey = str(ec, "encryptionType"), str(ec, "kmsKey")
	}
	s.repos[region+"/"+name] = r
	return map[string]any{"repository": r.json()}, nil
}

func (s *Server) describeRepositories(region string, in map[string]any) (any, *apiError) {
	var list []*Repository
	if names, ok := in["repositoryNames"].([]any); ok {
		for _, n := range names {
			r, e := s.repo(region, map[string]any{"repositoryName": n})
			if e != nil {
				return nil, e
			}
			list = append(list, r)
		}
	} else {
		for _, r := range s.repos {
			if r.Region == region {
				list = append(list, r)
			}
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	start, _ := strconv.Atoi(str(in, "nextToken"))
	max := 100
	if m, ok := in["maxResults"].(float64); ok {
		if m < 1 || m > 1000 {
			return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
		}
		max = int(m)
	}
	out := map[string]any{}
	repos := []any{}
	for i := start; i < len(list) && i < start+max; i++ {
		repos = append(repos, list[i].json())
	}
	if start+max < len(list) {
		out["nextToken"] = strconv.Itoa(start + max)
	}
	out["repositories"] = repos
	return out, nil
}

func (s *Server) deleteRepository(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if force, _ := in["force"].(bool); r.count() > 0 && !force {
		return nil, fail(400, "RepositoryNotEmptyException", "The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", r.Name, Account)
	}
	delete(s.repos, region+"/"+r.Name)
	return map[string]any{"repository": r.json()}, nil
}

func (s *Server) putImageTagMutability(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	if str(in, "imageTagMutability") == "" {
		return nil, fail(400, "ValidationException", "1 validation error detected: Value null at 'imageTagMutability' failed to satisfy constraint: Member must not be null")
	}
	m, filters, e := mutability(in, "")
	if e != nil {
		return nil, e
	}
	r.TagMutability, r.Exclusions = m, filters
	out := map[string]any{"registryId": Account, "repositoryName": r.Name, "imageTagMutability": r.TagMutability}
	if len(filters) > 0 {
		out["imageTagMutabilityExclusionFilters"] = filtersOut(filters)
	}
	return out, nil
}

func (s *Server) putImageScanningConfiguration(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	sc, _ := in["imageScanningConfiguration"].(map[string]any)
	r.ScanOnPush, _ = sc["scanOnPush"].(bool)
	return map[string]any{"registryId": Account, "repositoryName": r.Name, "imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush}}, nil
}

// byArn finds a repository by its ARN (the tag operations name it so).
func (s *Server) byArn(in map[string]any) (*Repository, *apiError) {
	a := str(in, "resourceArn")
	for _, r := range s.repos {
		if arn(r.Region, r.Name) == a {
			return r, nil
		}
	}
	return nil, fail(400, "RepositoryNotFoundException", "The repository with ARN '%s' does not exist in the registry with id '%s'", a, Account)
}

func (s *Server) listTags(_ string, in map[string]any) (any, *apiError) {
	r, e := s.byArn(in)
	if e != nil {
		return nil, e
	}
	return map[string]any{"tags": tagsOut(r.Tags)}, nil
}

func (s *Server) tagResource(_ string, in map[string]any) (any, *apiError) {
	r, e := s.byArn(in)
	if e != nil {
		return nil, e
	}
	for k, v := range tagsIn(in["tags"]) {
		r.Tags[k] = v
	}
	if len(r.Tags) > 50 {
		return nil, fail(400, "TooManyTagsException", "The repository '%s' would have more than 50 tags", r.Name)
	}
	return map[string]any{}, nil
}

func (s *Server) untagResource(_ string, in map[string]any) (any, *apiError) {
	r, e := s.byArn(in)
	if e != nil {
		return nil, e
	}
	keys, _ := in["tagKeys"].([]any)
	for _, k := range keys {
		delete(r.Tags, fmt.Sprint(k))
	}
	return map[string]any{}, nil
}

// listImages lists a repository's images (digest and tag), one page.
func (s *Server) listImages(region string, in map[string]any) (any, *apiError) {
	r, e := s.repo(region, in)
	if e != nil {
		return nil, e
	}
	var ids []any
	for i := 0; i < r.Images; i++ {
		ids = append(ids, map[string]any{"imageDigest": fmt.Sprintf("sha256:%064d", i)})
	}
	for _, img := range r.ImageList {
		if len(img.Tags) == 0 {
			ids = append(ids, map[string]any{"imageDigest": img.Digest})
		}
		for _, t := range img.Tags {
			ids = append(ids, map[string]any{"imageDigest": img.Digest, "imageTag": t})
		}
	}
	start, _ := strconv.Atoi(str(in, "nextToken"))
	max := 100
	if m, ok := in["maxResults"].(float64); ok && m > 0 {
		max = int(m)
	}
	out := map[string]any{"imageIds": []any{}}
	if start < len(ids) {
		end := min(start+max, len(ids))
		out["imageIds"] = ids[start:end]
		if end < len(ids) {
			out["nextToken"] = strconv.Itoa(end)
		}
	}
	return out, nil
}
