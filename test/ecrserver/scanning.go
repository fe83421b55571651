package ecrserver

import (
	"regexp"
	"slices"
)

// ScanningConfiguration is a registry's scanning configuration (ECR's
// registry-level scanning, which replaced each repository's scan on push).
type ScanningConfiguration struct {
	// ScanType is BASIC or ENHANCED.
	ScanType string
	Rules    []ScanningRule
}

// ScanningRule scans the repositories one of its wildcard filters matches,
// at its frequency (SCAN_ON_PUSH; with ENHANCED also CONTINUOUS_SCAN).
type ScanningRule struct {
	ScanFrequency string
	Filters       []string
}

// SetRegistryScanning sets a region's registry scanning configuration out
// of band (as the account's security team would).
func (s *Server) SetRegistryScanning(region string, c ScanningConfiguration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scanning[region] = &c
}

// scanFilter is the pattern of a scanning repository filter (API
// reference, ScanningRepositoryFilter).
var scanFilter = regexp.MustCompile(`^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`)

func (c *ScanningConfiguration) json() map[string]any {
	rules := []any{}
	for _, r := range c.Rules {
		filters := []any{}
		for _, f := range r.Filters {
			filters = append(filters, map[string]any{"filter": f, "filterType": "WILDCARD"})
		}
		rules = append(rules, map[string]any{"scanFrequency": r.ScanFrequency, "repositoryFilters": filters})
	}
	return map[string]any{"scanType": c.ScanType, "rules": rules}
}

func (s *Server) getRegistryScanning(region string, _ map[string]any) (any, *apiError) {
	c, ok := s.scanning[region]
	if !ok {
		c = &ScanningConfiguration{ScanType: "BASIC"}
	}
	return map[string]any{"registryId": Account, "scanningConfiguration": c.json()}, nil
}

func (s *Server) putRegistryScanning(region string, in map[string]any) (any, *apiError) {
	c := &ScanningConfiguration{ScanType: str(in, "scanType")}
	if c.ScanType == "" {
		c.ScanType = "BASIC"
	}
	if c.ScanType != "BASIC" && c.ScanType != "ENHANCED" {
		return nil, fail(400, "ValidationException", "scanType must be BASIC or ENHANCED")
	}
	rules, _ := in["rules"].([]any)
	if len(rules) > 2 {
		return nil, fail(400, "ValidationException", "a registry has at most 2 scanning rules")
	}
	for _, raw := range rules {
		m, _ := raw.(map[string]any)
		rule := ScanningRule{ScanFrequency: str(m, "scanFrequency")}
		ok := rule.ScanFrequency == "SCAN_ON_PUSH" || c.ScanType == "ENHANCED" && rule.ScanFrequency == "CONTINUOUS_SCAN"
		if !ok {
			return nil, fail(400, "ValidationException", "scanFrequency %s is not supported with scanType %s", rule.ScanFrequency, c.ScanType)
		}
		filters, _ := m["repositoryFilters"].([]any)
		for _, f := range filters {
			fm, _ := f.(map[string]any)
			if str(fm, "filterType") != "WILDCARD" || !scanFilter.MatchString(str(fm, "filter")) {
				return nil, fail(400, "ValidationException", "repository filter %q does not match %s", str(fm, "filter"), scanFilter)
			}
			rule.Filters = append(rule.Filters, str(fm, "filter"))
		}
		c.Rules = append(c.Rules, rule)
	}
	s.scanning[region] = c
	return map[string]any{"registryScanningConfiguration": map[string]any{"registryId": Account, "scanningConfiguration": c.json()}}, nil
}

// effectiveScanning is how ECR scans a repository: by the registry's rules
// once the registry has a scanning configuration (the first rule one of
// whose filters matches; CONTINUOUS_SCAN before SCAN_ON_PUSH), else by the
// repository's own scan on push.
func (s *Server) effectiveScanning(r *Repository) (string, []string) {
	c, ok := s.scanning[r.Region]
	if !ok {
		if r.ScanOnPush {
			return "SCAN_ON_PUSH", nil
		}
		return "MANUAL", nil
	}
	for _, freq := range []string{"CONTINUOUS_SCAN", "SCAN_ON_PUSH"} {
		for _, rule := range c.Rules {
			if rule.ScanFrequency != freq {
				continue
			}
			if i := slices.IndexFunc(rule.Filters, func(f string) bool { return wildcard(f, r.Name) }); i >= 0 {
				return freq, []string{rule.Filters[i]}
			}
		}
	}
	return "MANUAL", nil
}

func (s *Server) batchGetRepositoryScanning(region string, in map[string]any) (any, *apiError) {
	names, _ := in["repositoryNames"].([]any)
	if len(names) < 1 || len(names) > 25 {
		return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length between 1 and 25'")
	}
	configs, failures := []any{}, []any{}
	for _, n := range names {
		name, _ := n.(string)
		r, ok := s.repos[region+"/"+name]
		if !ok {
			failures = append(failures, map[string]any{"repositoryName": name, "failureCode": "REPOSITORY_NOT_FOUND",
				"failureReason": "REPOSITORY_NOT_FOUND"})
			continue
		}
		freq, filters := s.effectiveScanning(r)
		applied := []any{}
		for _, f := range filters {
			applied = append(applied, map[string]any{"filter": f, "filterType": "WILDCARD"})
		}
		configs = append(configs, map[string]any{"repositoryArn": arn(region, r.Name), "repositoryName": r.Name,
			"scanOnPush": freq == "SCAN_ON_PUSH", "scanFrequency": freq, "appliedScanFilters": applied})
	}
	return map[string]any{"scanningConfigurations": configs, "failures": failures}, nil
}
