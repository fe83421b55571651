package pipeline

import (
	"fmt"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/source"
)

// A team reaches only what the platform allows, however it spells a key:
// the keys of a spec its component binds with relaxed names (schema.Schema
// Bound) are read in their canonical spelling before schema checks,
// pre-processors and governance, and a key Laiki does not know is an error
// from a team (ShinyProxy may bind it, past every rule) unless the platform
// allows it in policy-data.baseline.

// keyRules is what policy-data.baseline says about the keys of team
// resources: the same settings the built-in baseline policy reads.
type keyRules struct {
	enforced    bool            // enabled (the default)
	allowed     map[string]bool // allowed-keys: keys teams may use after all
	unknownWarn bool            // unknown-keys: warn
}

func keyRulesOf(policyData map[string]any) keyRules {
	k := keyRules{enforced: true, allowed: map[string]bool{}}
	b, _ := policyData["baseline"].(map[string]any)
	if enabled, ok := b["enabled"].(bool); ok {
		k.enforced = enabled
	}
	if list, ok := b["allowed-keys"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				k.allowed[s] = true
			}
		}
	}
	if s, _ := b["unknown-keys"].(string); s == "warn" {
		k.unknownWarn = true
	}
	return k
}

// canonicalKeys rewrites the keys of a document's spec to their canonical
// spelling, in the spec and in its YAML tree, with a warning at each line
// where a key was spelt otherwise.
func canonicalKeys(d *document.Document, s *schema.Schema) []finding.Finding {
	if !s.Bound {
		return nil
	}
	renames, problems := s.Canonicalize(d.Spec)
	var fs []finding.Finding
	for _, rn := range renames {
		at := append(append([]string{document.KeySpec}, rn.Path...), rn.From)
		fs = append(fs, finding.Finding{Severity: finding.Warn, Location: d.PosOf(at...), Policy: finding.CheckSchema,
			Field:   strings.Join(append(append([]string{document.KeySpec}, rn.Path...), rn.To), "."),
			Message: fmt.Sprintf("%s is read as %s (ShinyProxy binds every spelling of a key to it); write %s", strings.Join(append(rn.Path, rn.From), "."), rn.To, rn.To)})
		d.RenameSpecKey(rn.Path, rn.From, rn.To)
	}
	return append(fs, problemFindings(d, problems)...)
}

// unknownKey decides how an unknown top-level key of a bound spec is
// reported: a warning from the platform (ShinyProxy may know it), an
// error from a team unless policy-data.baseline allows the key or lowers
// the error; a property path (container-env.X, container-volumes[0]) binds
// into another key past its checks, and stays an error for a team.
func (k keyRules) unknownKey(role, key string, sev finding.Severity) (finding.Severity, bool) {
	switch {
	case role == source.RolePlatform:
		return finding.Warn, true
	case schema.IsPropertyPath(key):
		return finding.Error, true
	case !k.enforced || k.unknownWarn:
		return finding.Warn, true
	case k.allowed[key]:
		return "", false
	}
	return sev, true
}
