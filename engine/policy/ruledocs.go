package policy

import (
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A report (SARIF above all) describes each rule it names. The words are the
// policy author's, from the Rego METADATA of the policy's package, so that a
// platform's own rules read as well as the built-in ones without Laiki
// knowing anything about them.

// RuleDoc describes a policy in its author's words, from its METADATA.
type RuleDoc struct {
	Title       string   // METADATA title
	Description string   // METADATA description
	Related     []string // related_resources refs (URLs), in order
}

// Doc returns what the METADATA of the package `pkg` (e.g. "laiki.governance.baseline") says; ok false when it has none.
//
// pkg is a finding's Policy: a package, or for a governance rule with a
// suffix (deny_latest) the package and the rule
// ("laiki.governance.tags.deny_latest"), whose own METADATA comes first
// there. Each field is the first non-empty one of, in order:
//
//  1. the package's own METADATA: scope package, then scope subpackages
//     declared on this very package;
//  2. the METADATA of the rules that report as that policy (deny, warn and
//     violation of a governance package; spec, warn and parameter_errors of
//     a pre-processor): scope document first, then scope rule, in file and
//     line order;
//  3. scope subpackages declared on an enclosing package, the nearest first.
//
// The package's own words come first because a report row stands for the
// whole package, where a rule's METADATA may speak of one of its checks;
// the rules still give a title to a package that has none, which is better
// than a bare package name. An enclosing package's subpackages METADATA
// comes last: it applies to every package below it (OPA's meaning), so it
// is the least specific and only fills what nothing nearer says (a link to
// the platform's wiki, say).
//
// A package split over several files is merged in the same way, the files
// in name order. There is no tie to break between two package METADATA
// blocks: OPA refuses a second block of one scope for the same package or
// document ("annotation redeclared"), so the set does not compile. A field
// is never pieced together from several blocks (Related included): each
// reads as one author wrote it.
func (p *Policies) Doc(pkg string) (RuleDoc, bool) {
	if p == nil {
		return RuleDoc{}, false
	}
	d, ok := p.docs[pkg]
	if !ok {
		return RuleDoc{}, false
	}
	// The set is shared by every run and request that uses it: a caller
	// that appends to Related must not change it for the others.
	d.Related = slices.Clone(d.Related)
	return d, true
}

// ruleDocs gathers the METADATA of a compiled set of modules by policy name
// (a finding's Policy), as Doc describes. Only the names with something to
// say are kept.
func ruleDocs(parsed map[string]*ast.Module) map[string]RuleDoc {
	own := map[string][]*ast.Annotations{} // by package: scope package, then subpackages, declared on it
	below := map[string]*ast.Annotations{} // scope subpackages, by the package it is declared on
	docScope := map[string][]*ast.Annotations{}
	ruleScope := map[string][]*ast.Annotations{}
	suffixed := map[string]string{} // deny_x's policy name: its package
	// Files in name order, and each file's annotations in line order (the
	// parser's), make "first non-empty" the same on every compile.
	for _, file := range slices.Sorted(maps.Keys(parsed)) {
		mod := parsed[file]
		pkg := packageName(mod)
		if _, ok := own[pkg]; !ok {
			own[pkg] = nil
		}
		for _, r := range mod.Rules {
			if policy, ok := reportsAs(pkg, r.Head.Name.String()); ok && policy != pkg {
				suffixed[policy] = pkg
			}
		}
		for _, a := range mod.Annotations {
			switch a.Scope {
			case "package":
				own[pkg] = slices.Insert(own[pkg], 0, a)
			case "subpackages":
				own[pkg] = append(own[pkg], a)
				below[pkg] = a
			case "document", "rule":
				policy, ok := reportsAs(pkg, annotatedRule(mod, a))
				if !ok {
					continue // a helper's METADATA: not what a finding is about
				}
				if a.Scope == "document" {
					docScope[policy] = append(docScope[policy], a)
				} else {
					ruleScope[policy] = append(ruleScope[policy], a)
				}
			}
		}
	}

	// Enclosing packages' subpackages METADATA, the nearest first.
	enclosing := func(pkg string) []*ast.Annotations {
		var out []*ast.Annotations
		for i := strings.LastIndexByte(pkg, '.'); i > 0; i = strings.LastIndexByte(pkg, '.') {
			pkg = pkg[:i]
			if a := below[pkg]; a != nil {
				out = append(out, a)
			}
		}
		return out
	}
	docs := map[string]RuleDoc{}
	keep := func(policy string, layers ...[]*ast.Annotations) {
		var d RuleDoc
		for _, a := range slices.Concat(layers...) {
			d.fill(a)
		}
		if d.Title != "" || d.Description != "" || len(d.Related) > 0 {
			docs[policy] = d
		}
	}
	for pkg, anns := range own {
		keep(pkg, anns, docScope[pkg], ruleScope[pkg], enclosing(pkg))
	}
	// deny_x of package tags reports as tags.deny_x: its own METADATA, then
	// its package's (not that of tags' deny, another rule).
	for policy, pkg := range suffixed {
		if _, ok := docs[policy]; ok {
			continue // a package of that very name, which says more about itself
		}
		keep(policy, docScope[policy], ruleScope[policy], own[pkg], enclosing(pkg))
	}
	return docs
}

// fill sets the fields that are still empty from a METADATA block.
func (d *RuleDoc) fill(a *ast.Annotations) {
	if d.Title == "" {
		d.Title = strings.TrimSpace(a.Title)
	}
	// A YAML block (description: |) ends with a newline that no report wants.
	if d.Description == "" {
		d.Description = strings.TrimSpace(a.Description)
	}
	if len(d.Related) == 0 {
		for _, r := range a.RelatedResources {
			if ref := r.Ref.String(); ref != "" {
				d.Related = append(d.Related, ref)
			}
		}
	}
}

// annotatedRule is the name of the rule a rule- or document-scoped METADATA
// block is on, or "" when it is on a rule with a longer ref (deny.x), which
// classify does not count as a rule of the package either.
func annotatedRule(mod *ast.Module, a *ast.Annotations) string {
	path := a.GetTargetPath()
	if len(path) != len(mod.Package.Path)+1 {
		return ""
	}
	switch v := path[len(path)-1].Value.(type) {
	case ast.String:
		return string(v)
	case ast.Var:
		return string(v)
	}
	return ""
}

// reportsAs is the Policy of the findings of a rule (see eval.go), and
// whether it gives findings at all.
func reportsAs(pkg, rule string) (string, bool) {
	switch {
	case pkg == GovernancePackage || strings.HasPrefix(pkg, GovernancePackage+"."):
		switch {
		case rule == "deny" || rule == "warn" || rule == "violation":
			return pkg, true
		case ruleName.MatchString(rule):
			return pkg + "." + rule, true
		}
	case strings.HasPrefix(pkg, PreProcessorPackage+".") && !strings.Contains(strings.TrimPrefix(pkg, PreProcessorPackage+"."), "."):
		// spec, for a pre-processor that gives none; parameter_errors, on
		// its own document.
		if rule == "spec" || rule == "warn" || rule == "parameter_errors" {
			return pkg, true
		}
	}
	return "", false
}
