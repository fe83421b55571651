package source

import (
	"fmt"
	"slices"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// Ref is how documents from this source name it.
func (s *Source) Ref() document.SourceRef {
	return document.SourceRef{Name: s.Name, Role: s.Role}
}

// Admit applies the source's access rules to one document: a team source may
// declare only resources of its allowed types, bound to its allowed
// namespaces. Data scientists own their apps, never the platform's settings.
func (s *Source) Admit(d *document.Document) []finding.Finding {
	if s.Role == RolePlatform || d.Broken {
		return nil
	}
	deny := func(field, format string, args ...any) []finding.Finding {
		return []finding.Finding{{Severity: finding.Error, Location: d.PosOf(field), Policy: finding.CheckAccess,
			Source: s.Name, Message: fmt.Sprintf(format, args...)}}
	}
	switch d.Kind {
	case document.Target, document.PreProcessor:
		return deny(document.KeyMetadata, "team source %s may not declare a %s (%s): targets and pre-processors belong to the platform source",
			s.Name, d.Kind, d.Type)
	}
	if allowed := s.allowedTypes(); !slices.Contains(allowed, d.Type) {
		return deny(document.KeyMetadata+"."+document.MetaResourceType, "team source %s may not declare %s resources (allowed: %s)",
			s.Name, d.Type, strings.Join(allowed, ", "))
	}
	if !slices.Contains(s.Allow.TargetNamespaces, d.TargetNamespace) {
		return deny(document.KeyMetadata+"."+document.MetaTargetNamespace, "team source %s may not bind resources to namespace %s (allowed: %s)",
			s.Name, d.TargetNamespace, strings.Join(s.Allow.TargetNamespaces, ", "))
	}
	if !s.Allow.AllowsTarget(d.TargetNamespace, d.TargetName) {
		return deny(document.KeyMetadata+"."+document.MetaTargetName, "team source %s may not bind resources to target %s/%s (allowed: %s)",
			s.Name, d.TargetNamespace, d.TargetName, strings.Join(s.Allow.Targets, ", "))
	}
	return nil
}

// AdmitPolicy applies the access rules to a Rego file: only platform sources
// may bring policies.
func (s *Source) AdmitPolicy(file string) []finding.Finding {
	if s.Role == RolePlatform {
		return nil
	}
	return []finding.Finding{{Severity: finding.Error, Location: finding.Location{File: file, Line: 1}, Policy: finding.CheckAccess,
		Source: s.Name, Message: fmt.Sprintf("team source %s may not bring Rego policies: pre-processors and governance rules belong to the platform source; the file is ignored", s.Name)}}
}
