package policy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/internal/near"
)

// Every rule the platform writes is evaluated, or refused out loud: Laiki
// evaluates only the packages under laiki.governance and
// laiki.preprocessors.<name>, and what they refer to. A platform file in any
// other package (conftest's `package main`, a typo such as
// laiki.goverance.x) would be compiled and never run, and a rule named
// `denny` in a governance package would never report: the first is an error
// at its package line, the second a warning at the rule.

// parseEvaluated parses all modules, and refuses the set when one of the
// platform's would never be evaluated; it gives the platform's files too.
func parseEvaluated(all, platform []Module) (map[string]*ast.Module, map[string]bool, error) {
	parsed, err := parse(all)
	if err != nil {
		return nil, nil, err
	}
	files := map[string]bool{}
	for _, m := range platform {
		files[m.File] = true
	}
	if errs := unevaluated(parsed, files); len(errs) > 0 {
		return nil, nil, &CompileError{Errors: errs}
	}
	return parsed, files, nil
}

// unevaluated returns an error for each platform module that no evaluated
// package refers to, directly or through other modules.
func unevaluated(parsed map[string]*ast.Module, platform map[string]bool) ast.Errors {
	reached := map[string]bool{} // by file
	var refs [][]string          // ground prefixes of the data refs of reached modules
	var queue []string
	for file, mod := range parsed {
		if evaluated(packageName(mod)) {
			reached[file] = true
			queue = append(queue, file)
		}
	}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		refs = append(refs, dataRefs(parsed[file])...)
		for other, mod := range parsed {
			if !reached[other] && referred(packagePath(mod), refs) {
				reached[other] = true
				queue = append(queue, other)
			}
		}
	}
	var files []string
	for file := range parsed {
		if platform[file] && !reached[file] {
			files = append(files, file)
		}
	}
	sort.Strings(files)
	var errs ast.Errors
	for _, file := range files {
		mod := parsed[file]
		pkg := packageName(mod)
		errs = append(errs, ast.NewError(ast.CompileErr, mod.Package.Location,
			"package %s would never be evaluated: Laiki evaluates the packages under %s (deny, warn and violation rules) and %s.<name> (pre-processors), and the packages they import; %s",
			pkg, GovernancePackage, PreProcessorPackage, packageHint(pkg)))
	}
	return errs
}

// packageHint says what to do about a package that is never evaluated.
func packageHint(pkg string) string {
	if pkg == "main" {
		return "a conftest policy carries over as it is once its package is renamed to laiki.governance.<name> (its input is then the Laiki document: laiki-metadata, laiki-spec, laiki-source)"
	}
	for _, known := range []string{GovernancePackage, PreProcessorPackage} {
		head := strings.SplitN(pkg, ".", 3)
		if len(head) >= 2 {
			prefix := strings.Join(head[:2], ".")
			if prefix != known && near.Distance(prefix, known) <= 3 {
				return fmt.Sprintf("did you mean package %s?", known+strings.TrimPrefix(pkg, prefix))
			}
		}
	}
	return "rename it under " + GovernancePackage + " or " + PreProcessorPackage + ", import it from a package that is, or remove it"
}

func evaluated(pkg string) bool {
	return pkg == GovernancePackage || strings.HasPrefix(pkg, GovernancePackage+".") || strings.HasPrefix(pkg, PreProcessorPackage+".")
}

func packagePath(m *ast.Module) []string {
	var out []string
	for _, t := range m.Package.Path[1:] {
		if s, ok := t.Value.(ast.String); ok {
			out = append(out, string(s))
		} else {
			out = append(out, t.Value.String())
		}
	}
	return out
}

// dataRefs lists, for every reference to data in a module (imports
// included), its path up to the first part that is not a constant.
func dataRefs(m *ast.Module) [][]string {
	var out [][]string
	ast.WalkRefs(m, func(r ast.Ref) bool {
		if len(r) == 0 || !r[0].Equal(ast.DefaultRootDocument) {
			return false
		}
		var path []string
		for _, t := range r[1:] {
			s, ok := t.Value.(ast.String)
			if !ok {
				break
			}
			path = append(path, string(s))
		}
		out = append(out, path)
		return false
	})
	return out
}

// referred reports whether a package is reached by one of the refs: a ref to
// the package or into it (data.lib.x.f), or to a document above it
// (data.lib, or data.lib[x]).
func referred(pkg []string, refs [][]string) bool {
	for _, r := range refs {
		n := min(len(r), len(pkg))
		same := true
		for i := 0; i < n; i++ {
			if r[i] != pkg[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// nearMisses warns about rules of governance packages whose names look
// like deny, warn or violation but are not, so they never report.
func nearMisses(parsed map[string]*ast.Module, platform map[string]bool) []finding.Finding {
	var out []finding.Finding
	files := slices.Sorted(maps.Keys(parsed))
	for _, file := range files {
		mod := parsed[file]
		pkg := packageName(mod)
		if !platform[file] || !(pkg == GovernancePackage || strings.HasPrefix(pkg, GovernancePackage+".")) {
			continue
		}
		seen := map[string]bool{}
		for _, r := range mod.Rules {
			name := r.Head.Name.String()
			if seen[name] || ruleName.MatchString(name) {
				continue
			}
			seen[name] = true
			if want, near := nearMiss(name); near {
				loc := finding.Location{File: file}
				if r.Location != nil {
					loc.Line, loc.Column = r.Location.Row, r.Location.Col
				}
				out = append(out, finding.Finding{Severity: finding.Warn, Location: loc, Policy: finding.CheckPolicies,
					Message: fmt.Sprintf("rule %s of %s is not a governance rule, so it never reports: did you mean %s? (Laiki reports the rules deny, warn and violation, and deny_*, warn_*, violation_*)", name, pkg, want)})
			}
		}
	}
	return out
}

// nearMiss tells whether a rule name looks like one of the governance
// rules (Deny, denny, warning, violations, deny-x) and which.
func nearMiss(name string) (string, bool) {
	lower := strings.ToLower(name)
	for _, want := range []string{"deny", "warn", "violation"} {
		switch {
		case lower == want, strings.HasPrefix(lower, want+"_"):
			return want + strings.TrimPrefix(lower, want), true
		case near.Distance(lower, want) <= 2 && len(lower) >= 4:
			return want, true
		case strings.HasPrefix(lower, want) && len(lower) <= len(want)+3:
			return want, true // warning, warns, violations, denys
		}
	}
	return "", false
}
