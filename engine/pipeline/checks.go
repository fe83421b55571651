package pipeline

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/policy"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/types"
)

// The checks of one document, shared by the whole run (Run) and by the
// admission of one object (Admit). Each returns its findings; the caller
// records them.

// checkTarget: a known target type, a valid spec, a namespace Kubernetes
// can use (or a warning that it is mapped).
func checkTarget(d *document.Document) []finding.Finding {
	tt, ok := types.Target(d.Type)
	if !ok {
		return []finding.Finding{errorAt(d, document.KeyMetadata+"."+document.MetaTargetType, finding.CheckDocument,
			"unknown target-type %s (known: %s)", d.Type, strings.Join(types.TargetNames(), ", "))}
	}
	fs := checkNames(d, document.MetaName, document.MetaNamespace)
	if finding.AnyBlocking(fs) {
		return fs
	}
	fs = append(fs, schemaFindings(d, d.Spec, tt.Schema, false, nil)...)
	fs = append(fs, problemFindings(d, tt.Problems(d.Spec))...)
	// Exactly the names kube.Name maps (too long, upper case, the shape of
	// a mapped name): each would land in a namespace no one chose.
	if kube.Mapped(d.Namespace) && types.KubernetesNamespace(d.Spec) == "" {
		fs = append(fs, finding.Finding{Severity: finding.Warn, Location: d.PosOf(document.KeyMetadata + "." + document.MetaNamespace),
			Policy: finding.CheckNaming, Message: fmt.Sprintf("namespace %s is not a valid Kubernetes namespace name (lower case letters, digits and '-'): this target's objects go to the namespace %s, the name Laiki maps it to; to choose the namespace, set %s in the laiki-spec of each target of %s (e.g. %s: %s)",
				d.Namespace, kube.Name(d.Namespace), types.KubernetesNamespaceKey, d.Namespace, types.KubernetesNamespaceKey, namespaceSuggestion(d.Namespace))})
	}
	return fs
}

var notInLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// namespaceSuggestion is a namespace name close to a Laiki namespace that
// Kubernetes does not take: its lower-case form, cleaned.
func namespaceSuggestion(namespace string) string {
	s := strings.Trim(notInLabel.ReplaceAllString(strings.ToLower(namespace), "-"), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if kube.Mapped(s) {
		return "apps"
	}
	return s
}

// checkNames refuses names that cannot be names: they become parts of
// object names (mapped to Kubernetes' rules, upper case with a warning) and
// of paths (laiki render --out), so types.Name's alphabet, and no "..".
func checkNames(d *document.Document, keys ...string) []finding.Finding {
	var fs []finding.Finding
	for _, k := range keys {
		v, _ := d.Metadata[k].(string)
		if !types.Name.MatchString(v) || strings.Contains(v, "..") {
			shown := v
			if len(shown) > 80 {
				shown = shown[:77] + "..."
			}
			fs = append(fs, errorAt(d, document.KeyMetadata+"."+k, finding.CheckDocument,
				"%s %q is not a name: letters, digits, '.', '_' and '-', starting and ending with a letter or digit, no \"..\", at most 63 characters (%d here)", k, shown, len(v)))
		}
	}
	return fs
}

// checkPreProcessor: a policy of that name, valid parameters, and a target
// to narrow to when it names one.
func (r *Index) checkPreProcessor(ctx context.Context, d *document.Document) []finding.Finding {
	if !r.Policies.HasPreProcessor(d.Type) {
		return []finding.Finding{errorAt(d, document.KeyMetadata+"."+document.MetaPreProcessorName, finding.CheckDocument,
			"unknown pre-processor-name %s: no Rego policy in package %s.%s (known: %s)", d.Type, policy.PreProcessorPackage, d.Type,
			strings.Join(r.Policies.PreProcessorNames(), ", "))}
	}
	fs := checkNames(d, document.MetaName, document.MetaTargetNamespace)
	if finding.AnyBlocking(fs) {
		return fs
	}
	fs = append(fs, r.Policies.CheckParameters(ctx, d)...)
	if d.TargetName != "" {
		if _, ok := r.targets[targetKey(d.Namespace, d.TargetName)]; !ok {
			fs = append(fs, errorAt(d, document.KeyMetadata+"."+document.MetaTargetName, finding.CheckBinding,
				"no target %s in namespace %s for this pre-processor to narrow to", d.TargetName, d.Namespace))
		}
		return fs
	}
	for _, t := range r.targets {
		if t.Namespace == d.Namespace {
			return fs
		}
	}
	return append(fs, finding.Finding{Severity: finding.Warn, Location: d.PosOf(document.KeyMetadata + "." + document.MetaTargetNamespace),
		Policy: finding.CheckBinding, Message: fmt.Sprintf("no target in namespace %s: this pre-processor changes nothing", d.Namespace)})
}

// bind reads a resource: its type, its target, its spec (before
// pre-processors, so required keys may still be missing) and its id.
func (r *Index) bind(d *document.Document) (*Resource, []finding.Finding) {
	res := &Resource{Doc: d, Spec: d.Spec, PolicyRevision: r.Policies.Revision}
	rt, ok := types.Resource(d.Type)
	if !ok {
		return res, []finding.Finding{errorAt(d, document.KeyMetadata+"."+document.MetaResourceType, finding.CheckDocument,
			"unknown resource-type %s (known: %s)", d.Type, strings.Join(types.ResourceNames(), ", "))}
	}
	res.Type = rt
	var fs []finding.Finding
	t, ok := r.targets[targetKey(d.TargetNamespace, d.TargetName)]
	switch {
	case !ok:
		fs = append(fs, errorAt(d, document.KeyMetadata+"."+document.MetaTargetName, finding.CheckBinding,
			"no target %s in namespace %s%s", d.TargetName, d.TargetNamespace, r.nearTargets()))
	case !rt.Binds(t.Type):
		fs = append(fs, errorAt(d, document.KeyMetadata+"."+document.MetaTargetName, finding.CheckBinding,
			"a %s binds to a %s target, and %s/%s is a %s (%s:%d)", d.Type, strings.Join(rt.TargetTypes, " or "),
			t.Namespace, t.Name, t.Type, t.File, t.Line))
	default:
		res.Target = t
	}
	renamed, ok := r.renamed[d]
	if !ok {
		renamed = canonicalKeys(d, rt.Schema)
	}
	fs = append(fs, renamed...)
	fs = append(fs, schemaFindings(d, d.Spec, rt.Schema, true, r.unknownBy(rt.Schema, func(string) string { return d.Source.Role }))...)
	if m, ok := d.Spec.(map[string]any); ok {
		res.ID, _ = m[rt.IdentityKey].(string)
	}
	if res.ID == "" && !finding.AnyBlocking(fs) {
		fs = append(fs, errorAt(d, document.KeySpec, finding.CheckSchema, "a %s needs %s", d.Type, rt.IdentityKey))
	}
	return res, fs
}

// nearTargets suggests the targets that exist, for a binding that failed.
func (r *Index) nearTargets() string {
	var names []string
	for _, t := range r.Targets {
		names = append(names, t.Namespace+"/"+t.Name)
	}
	if len(names) == 0 {
		return " (no target is declared by any source)"
	}
	return " (targets: " + strings.Join(names, ", ") + ")"
}

// judge runs a bound resource through its pre-processors, the schema again,
// and governance, and sets its spec and verdict.
func (r *Index) judge(ctx context.Context, res *Resource) []finding.Finding {
	return r.judgeWith(ctx, res, true)
}

// judgeWith runs the pre-processors and the schema checks, and governance
// when govern is set (the mutating webhook leaves it to the validating one).
func (r *Index) judgeWith(ctx context.Context, res *Resource, govern bool) []finding.Finding {
	d := res.Doc
	pps := r.PreProcessorsFor(d)
	for _, pp := range pps {
		if pp.Broken || r.inError(pp) {
			return []finding.Finding{{Severity: finding.Error, Location: d.Location(), Policy: finding.CheckBinding,
				Message: fmt.Sprintf("held back: pre-processor %s/%s (%s:%d) that applies to it is in error", pp.Namespace, pp.Name, pp.File, pp.Line),
				Related: []finding.Location{pp.Origin()}}}
		}
	}
	// Pre-processors and governance in one evaluation where they can be.
	ev := r.Policies.Evaluate(ctx, d, pps, govern)
	spec, fs, changes := ev.Spec, ev.Findings, ev.Changes
	res.Spec, res.Changes, res.PreProcessors = spec, changes, pps
	if finding.AnyBlocking(fs) {
		return fs
	}
	// What a pre-processor gives is read in canonical keys too; a key it
	// spells otherwise is its to fix.
	renamed := false // spec changed since the evaluation: governance sees the new one
	if res.Type.Schema.Bound && len(pps) > 0 {
		renames, problems := res.Type.Schema.Canonicalize(spec)
		renamed = len(renames) > 0
		for _, rn := range renames {
			// Blamed by the key as the pre-processor spelt it.
			f := blame(finding.Finding{Severity: finding.Warn, Policy: finding.CheckSchema,
				Field:   strings.Join(append(append([]string{document.KeySpec}, rn.Path...), rn.From), "."),
				Message: fmt.Sprintf("%s is read as %s (ShinyProxy binds every spelling of a key to it); write %s", strings.Join(append(rn.Path, rn.From), "."), rn.To, rn.To)}, d, changes)
			f.Field = strings.Join(append(append([]string{document.KeySpec}, rn.Path...), rn.To), ".")
			fs = append(fs, f)
		}
		for _, f := range problemFindings(d, problems) {
			fs = append(fs, blame(f, d, changes))
		}
	}
	// The spec after pre-processors must still be a valid one: a platform
	// default of the wrong type is caught here, against the pre-processor.
	// What the check before them said already is not said twice.
	// A key the resource does not have as written is the platform's.
	written, _ := d.Spec.(map[string]any)
	roleOf := func(key string) string {
		if _, ok := written[key]; ok {
			return d.Source.Role
		}
		return source.RolePlatform
	}
	said := map[string]bool{}
	for _, f := range schemaFindings(d, d.Spec, res.Type.Schema, true, r.unknownBy(res.Type.Schema, roleOf)) {
		said[f.Field+"\x00"+f.Message] = true
	}
	for _, f := range schemaFindings(d, spec, res.Type.Schema, false, r.unknownBy(res.Type.Schema, roleOf)) {
		if !said[f.Field+"\x00"+f.Message] {
			fs = append(fs, blame(f, d, changes))
		}
	}
	if finding.AnyBlocking(fs) {
		return fs
	}
	if govern {
		fs = append(fs, ev.Govern(ctx, renamed)...)
	}
	res.Accepted = !finding.AnyBlocking(fs)
	return fs
}

// schemaFindings checks a spec; partial leaves out required keys (a
// pre-processor may still set them); unknown, when set, decides how an
// unknown top-level key is reported (and whether at all).
func schemaFindings(d *document.Document, spec any, s *schema.Schema, partial bool, unknown func(key string, sev finding.Severity) (finding.Severity, bool)) []finding.Finding {
	if s == nil {
		return nil
	}
	var ps []schema.Problem
	for _, p := range s.Check(spec) {
		if partial && p.Missing {
			continue
		}
		if p.Unknown && len(p.Path) == 1 && unknown != nil {
			sev, report := unknown(p.Path[0], p.Severity)
			if !report {
				continue
			}
			p.Severity = sev
		}
		ps = append(ps, p)
	}
	return problemFindings(d, ps)
}

// unknownBy gives schemaFindings the rule for unknown keys of a bound spec,
// by who wrote the key (roleOf); nil for other specs.
func (r *Index) unknownBy(s *schema.Schema, roleOf func(key string) string) func(string, finding.Severity) (finding.Severity, bool) {
	if !s.Bound {
		return nil
	}
	return func(key string, sev finding.Severity) (finding.Severity, bool) {
		return r.keys.unknownKey(roleOf(key), key, sev)
	}
}

func problemFindings(d *document.Document, ps []schema.Problem) []finding.Finding {
	var fs []finding.Finding
	for _, p := range ps {
		path := append([]string{document.KeySpec}, p.Path...)
		fs = append(fs, finding.Finding{Severity: p.Severity, Location: d.PosOf(path...), Policy: finding.CheckSchema,
			Message: p.Message, Field: strings.Join(path, ".")})
	}
	return fs
}

// blame puts a finding about a field a pre-processor set where that
// pre-processor sets it (its file and line, its source), naming the
// resource as related: the platform's mistake is not the team's to fix.
// A finding about anything else is left where it is.
func blame(f finding.Finding, d *document.Document, changes []policy.Change) finding.Finding {
	path := strings.Split(f.Field, ".")
	var by *policy.Change
	for i := range changes {
		c := &changes[i]
		if len(c.Field) > 1 && len(c.Field) <= len(path) && slices.Equal(c.Field, path[:len(c.Field)]) {
			by = c // the last one to set it
		}
	}
	if by == nil {
		if f.Location.File == "" {
			f.Location = d.PosOf(path...)
		}
		return f
	}
	pp := by.PreProcessor
	f.Location = pp.PosOf(document.KeySpec)
	rule := ""
	if by.Rule != "" {
		f.Location = pp.PosOf(append([]string{document.KeySpec, by.Rule}, path[1:]...)...)
		rule = ", " + by.Rule
	}
	f.Source = pp.Source.Name
	at := d.PosOf(path...)
	at.Source = d.Source.Name
	f.Related = append(f.Related, at)
	f.Message = fmt.Sprintf("%s (set by pre-processor %s/%s%s)", f.Message, pp.Namespace, pp.Name, rule)
	return f
}
