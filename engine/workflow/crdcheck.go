package workflow

import (
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/policy"
)

// The ShinyProxy operator's CRD types a few keys of the ShinyProxy resource
// (proxy.port an integer, proxy.authentication one of nine values, an app's
// containerMemory a string; kebab-case keys it keeps unchecked). One value
// of another type and the API server refuses the whole resource: every app
// of the target stops deploying. So the rendered resource is validated here
// against the CRD, with the API server's own code, in every entry point that
// renders: an app that would break it is left out, at its own line, and the
// others deploy; a platform value that breaks it is an error at the
// target's line (the resource is then refused and the one running stays).

// shinyProxyCRD is the operator's CRD (crds/README.md says which release).
//
//go:embed crds/shinyproxy.crd.yaml
var shinyProxyCRD []byte

// crdName names the CRD in messages.
const crdName = "the ShinyProxy operator's CRD"

// crdVersion is one served version of a CRD, compiled as the API server
// compiles it: a structural schema (pruning, defaulting, list types) and
// an OpenAPI validator.
type crdVersion struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaCreateValidator
}

var (
	crdOnce     sync.Once
	crdVersions map[string]*crdVersion // by apiVersion (openanalytics.eu/v1)
	crdErr      error
)

// shinyProxyVersions compiles the CRD once per process: validation runs per
// target per render, and compiling is what costs.
func shinyProxyVersions() (map[string]*crdVersion, error) {
	crdOnce.Do(func() { crdVersions, crdErr = compileCRD(shinyProxyCRD) })
	return crdVersions, crdErr
}

func compileCRD(raw []byte) (map[string]*crdVersion, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := sigsyaml.Unmarshal(raw, &crd); err != nil {
		return nil, fmt.Errorf("reading the CRD: %w", err)
	}
	out := map[string]*crdVersion{}
	for _, v := range crd.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue // the API server checks nothing either
		}
		cv, err := compileVersion(v.Schema.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		out[crd.Spec.Group+"/"+v.Name] = cv
	}
	return out, nil
}

func compileVersion(schema *apiextensionsv1.JSONSchemaProps) (*crdVersion, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(schema, &internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, err
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	return &crdVersion{structural: s, validator: validator}, nil
}

// validate does to obj what the API server does to a ShinyProxy resource
// Laiki applies (server-side apply): drop unknown fields, default, then
// validate (the schema, and list types). obj is changed. A null where the
// CRD types a value is refused: a create would drop it first, but an apply
// keeps it, and Laiki applies. The CRD has no CEL rules and puts nothing
// on metadata.
func (v *crdVersion) validate(obj map[string]any) field.ErrorList {
	structuralpruning.Prune(obj, v.structural, true)
	structuraldefaulting.Default(obj, v.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, v.validator)
	return append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
}

// ValidateShinyProxy validates a ShinyProxy resource (as JSON decodes it)
// against the operator's CRD, as the API server does when Laiki applies it
// (server-side apply): no errors means the server takes it. obj is not
// changed.
func ValidateShinyProxy(obj map[string]any) (field.ErrorList, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	copied, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	return validateObject(copied)
}

func validateObject(obj map[string]any) (field.ErrorList, error) {
	v, err := versionOf(obj)
	if err != nil {
		return nil, err
	}
	return v.validate(obj), nil
}

// versionOf finds the compiled version of the CRD an object is of.
func versionOf(obj map[string]any) (*crdVersion, error) {
	versions, err := shinyProxyVersions()
	if err != nil {
		return nil, err
	}
	apiVersion, _ := obj["apiVersion"].(string)
	v, ok := versions[apiVersion]
	if !ok {
		return nil, fmt.Errorf("%s serves no %s", crdName, apiVersion)
	}
	return v, nil
}

// decodeObject reads JSON as the API server does (integers as int64).
func decodeObject(raw []byte) (map[string]any, error) {
	var obj map[string]any
	if err := k8sjson.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// checkAgainstCRD validates the ShinyProxy resource the target renders
// (the ShinyProxy object of out). The apps that make it invalid are taken
// out of its proxy.specs (which application.yml shares), each with an
// error at its own line; what else makes it invalid is the platform's, at
// the target's line. A required key the platform has not written (fqdn) is
// a warning: the design document's targets leave the operator's keys out,
// and `laiki render` works without them.
func checkAgainstCRD(c *Context, t *document.Document, out *Target) []finding.Finding {
	cr := shinyProxyObject(out)
	if cr == nil {
		return nil
	}
	byApp, rest, err := refusals(cr, checked)
	if err != nil {
		return []finding.Finding{targetFinding(t, finding.Error, "", err.Error())}
	}
	specs := get(get(get(cr, "spec"), "proxy"), "specs")
	apps := map[string]*pipeline.Resource{}
	for _, r := range c.Bound(t, "ShinyProxyApp") {
		apps[r.ID] = r
	}
	var fs []finding.Finding
	for _, i := range sortedIndices(byApp) {
		r := apps[get(specs.Content[i], "id").Value]
		for _, e := range byApp[i] {
			if r == nil { // every entry is an accepted app's: never so
				fs = append(fs, platformFinding(t, e))
			} else {
				fs = append(fs, appFinding(t, r, e))
			}
		}
	}
	for _, e := range rest {
		if e.Type == field.ErrorTypeRequired && strings.Join(e.path, ".") == "spec.fqdn" {
			continue // the ShinyProxy target type's own check says it, with the fix, in the webhook too
		}
		fs = append(fs, platformFinding(t, e))
	}
	dropApps(specs, byApp)
	return fs
}

// CheckAppAgainstCRD says whether one accepted ShinyProxyApp, rendered as
// its target renders it, would make the API server refuse the target's
// ShinyProxy resource: for the admission webhook, which decides one app
// without rendering its target. The findings are those a render makes.
func CheckAppAgainstCRD(r *pipeline.Resource) []finding.Finding {
	if r == nil || r.Target == nil || r.Doc.Type != "ShinyProxyApp" {
		return nil
	}
	alone := mapping("apiVersion", "openanalytics.eu/v1", "kind", "ShinyProxy", "metadata", mapping("name", "app"),
		"spec", mapping("fqdn", "app", "proxy", mapping("specs", []*yaml.Node{appNode(r)})))
	byApp, _, err := refusals(alone, nil) // one app at a time, each new: nothing to remember
	if err != nil {
		return []finding.Finding{targetFinding(r.Target, finding.Error, "", err.Error())}
	}
	var fs []finding.Finding
	for _, e := range byApp[0] {
		fs = append(fs, appFinding(r.Target, r, e))
	}
	return fs
}

// refusals validates a ShinyProxy resource as sent (its JSON, decoded as
// the API server decodes it) and sorts what the CRD refuses in it into the
// apps' (by index in proxy.specs) and the rest; through cache when not nil.
func refusals(cr *yaml.Node, cache *refusalCache) (map[int][]crdError, []crdError, error) {
	raw, err := Ordered{cr}.MarshalJSON()
	if err != nil {
		return nil, nil, nil // not sent either: the applier says why
	}
	if cache == nil {
		r := refuse(raw)
		return r.byApp, r.rest, r.err
	}
	key := sha256.Sum256(raw)
	if r, ok := cache.get(key); ok {
		return r.byApp, r.rest, r.err
	}
	r := refuse(raw)
	cache.put(key, r)
	return r.byApp, r.rest, r.err
}

// refusal is what the CRD check found in one resource.
type refusal struct {
	byApp map[int][]crdError
	rest  []crdError
	err   error
}

func refuse(raw []byte) refusal {
	obj, err := decodeObject(raw)
	if err != nil {
		return refusal{}
	}
	v, err := versionOf(obj)
	if err != nil {
		return refusal{err: fmt.Errorf("Laiki cannot check the ShinyProxy resource against %s it carries: %w", crdName, err)}
	}
	errs := v.validate(obj)
	if len(errs) == 0 {
		return refusal{}
	}
	byApp, rest := splitByApp(errs, obj, v.structural)
	return refusal{byApp: byApp, rest: rest}
}

// checked remembers the refusals of the resources checked lately, by the
// digest of their JSON. The check is a function of that JSON alone (the
// CRD is built in), and one resource is often checked again: a render that
// takes an app back renders every target again (RenderAndJudgeWith's
// passes, in check as in the reconcile loop), and a target rendered anew
// may give the resource it gave (an ECR repository of it changed). Such a
// resource is not decoded and validated again (the 20 resources of 10,000
// apps took 0.3 s a render).
// Renders may run side by side (the operator's reconcile and a check of
// its own), hence the lock; the webhook's one-app checks do not pass
// through it, so that they never push the targets out.
var checked = &refusalCache{}

const maxRefusals = 256

type refusalCache struct {
	mu sync.Mutex
	m  map[[32]byte]refusal
}

func (c *refusalCache) get(key [32]byte) (refusal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	return r, ok
}

// put keeps r; when full, the cache starts over (a platform has far fewer
// ShinyProxy targets than it holds).
func (c *refusalCache) put(key [32]byte, r refusal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxRefusals {
		c.m = map[[32]byte]refusal{}
	}
	c.m[key] = r
}

// shinyProxyObject returns the ShinyProxy object among a target's objects.
func shinyProxyObject(out *Target) *yaml.Node {
	for _, o := range out.Objects {
		if k := get(o.Node, "kind"); k != nil && k.Value == "ShinyProxy" {
			return o.Node
		}
	}
	return nil
}

// crdError is one refusal, with its path split (spec, proxy, port), the
// value there and the CRD's schema there (nil where it has none).
type crdError struct {
	*field.Error
	path   []string
	value  any
	schema *structuralschema.Structural
}

// splitByApp sorts the errors into those inside one app's entry of
// proxy.specs (by its index there) and the others.
func splitByApp(errs field.ErrorList, obj map[string]any, root *structuralschema.Structural) (map[int][]crdError, []crdError) {
	byApp := map[int][]crdError{}
	var rest []crdError
	for _, e := range withPaths(errs) {
		path := splitPath(e.Field)
		ce := crdError{e, path, valueAt(obj, path), schemaAt(root, path)}
		if i, ok := appIndex(ce.path); ok {
			byApp[i] = append(byApp[i], ce)
		} else {
			rest = append(rest, ce)
		}
	}
	return byApp, rest
}

// withPaths leaves out the errors with no path (kube-openapi's format
// check of an integer repeats its type error without one) when any has
// one: each of those is said where it is.
func withPaths(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	for _, e := range errs {
		if e.Field != "" && e.Field != "<nil>" {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return errs
	}
	return out
}

// splitPath splits a field path (spec.proxy.specs[2].containerCmd[0]) into
// its keys and indices. The keys the CRD types have no '.' or '['.
func splitPath(p string) []string {
	p = strings.ReplaceAll(strings.ReplaceAll(p, "[", "."), "]", "")
	return strings.Split(p, ".")
}

// appIndex says which entry of spec.proxy.specs a path is inside of.
func appIndex(path []string) (int, bool) {
	if len(path) < 5 || !slices.Equal(path[:3], []string{"spec", "proxy", "specs"}) {
		return 0, false
	}
	i, err := strconv.Atoi(path[3])
	return i, err == nil
}

func sortedIndices(m map[int][]crdError) []int {
	out := make([]int, 0, len(m))
	for i := range m {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// appFinding says why an app is left out, at the key as the app (or the
// pre-processor that set it) wrote it. It names the app's resource, so
// that RenderAndJudge takes back its acceptance.
func appFinding(t *document.Document, r *pipeline.Resource, e crdError) finding.Finding {
	rel := e.path[4:] // inside the app's entry
	at := append([]string{document.KeySpec}, rel...)
	f := finding.Finding{Severity: finding.Error, Policy: CheckWorkflow, Resource: r.Key(), Source: r.Doc.Source.Name,
		Location: r.Doc.PosOf(at...), Field: strings.Join(at, ".")}
	by := ""
	if pp, rule := setBy(r, at); pp != nil {
		f.Location, f.Source = preProcessorAt(pp, rule, rel), pp.Source.Name
		by = fmt.Sprintf(" (set by pre-processor %s/%s)", pp.Namespace, pp.Name)
	}
	f.Message = fmt.Sprintf("%s%s; the API server would refuse the whole ShinyProxy resource of target %s/%s, so this app is left out of it and the others deploy; %s",
		describe(e, userPath(rel)), by, t.Namespace, t.Name, remedy(e))
	return f
}

// setBy returns the pre-processor that last set a field of the app's spec
// (as policy.Change records it), when it is not the app's own.
func setBy(r *pipeline.Resource, at []string) (*document.Document, string) {
	var by *policy.Change
	for i := range r.Changes {
		c := &r.Changes[i]
		if len(c.Field) > 1 && len(c.Field) <= len(at) && slices.Equal(c.Field, at[:len(c.Field)]) {
			by = c
		}
	}
	if by == nil {
		return nil, ""
	}
	return by.PreProcessor, by.Rule
}

func preProcessorAt(pp *document.Document, rule string, rel []string) finding.Location {
	if rule == "" {
		return pp.PosOf(document.KeySpec)
	}
	return pp.PosOf(append([]string{document.KeySpec, rule}, rel...)...)
}

// platformFinding says what of the target's configuration breaks the
// resource, at its line in the target's file. The resource stays in the
// desired state as rendered: left out, the reconcile loop would prune the
// one running; sent, the API server refuses it and the one running stays.
func platformFinding(t *document.Document, e crdError) finding.Finding {
	rel := e.path[1:] // inside spec: the target's laiki-spec
	sev, consequence := finding.Error, ", so it is not applied (one already running stays as it is)"
	if e.Type == field.ErrorTypeRequired {
		sev, consequence = finding.Warn, " without it, so it is not applied (laiki render works without it)"
	}
	f := targetFinding(t, sev, strings.Join(append([]string{document.KeySpec}, rel...), "."),
		fmt.Sprintf("%s; the API server refuses the whole ShinyProxy resource of target %s/%s%s; %s",
			describe(e, userPath(rel)), t.Namespace, t.Name, consequence, remedy(e)))
	f.Location = t.PosOf(append([]string{document.KeySpec}, rel...)...)
	return f
}

func targetFinding(t *document.Document, sev finding.Severity, fieldPath, msg string) finding.Finding {
	return finding.Finding{Severity: sev, Policy: CheckWorkflow, Location: t.Location(), Source: t.Source.Name,
		Resource: fmt.Sprintf("%s %s/%s", t.Type, t.Namespace, t.Name), Field: fieldPath, Message: msg}
}

// userPath writes a path as the user wrote the key: containerCmd[1]; the
// resource itself when it is empty.
func userPath(path []string) string {
	if len(path) == 0 {
		return "the ShinyProxy resource"
	}
	return joinPath(path, true)
}

// crdPath writes a path as the CRD's rule reads: spec.proxy.specs[].id.
func crdPath(path []string) string { return joinPath(path, false) }

func joinPath(path []string, indices bool) string {
	var b strings.Builder
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			if indices {
				fmt.Fprintf(&b, "[%s]", p)
			} else {
				b.WriteString("[]")
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// valueAt finds the value at a path of a decoded object (nil if none).
func valueAt(v any, path []string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// describe says what is wrong with a value and which rule of the CRD it
// breaks: the value as found, what the CRD wants there, and where.
func describe(e crdError, name string) string {
	rule := crdPath(e.path)
	switch e.Type {
	case field.ErrorTypeRequired:
		return fmt.Sprintf("%s is missing, and %s requires %s", name, crdName, rule)
	case field.ErrorTypeNotSupported:
		return fmt.Sprintf("%s is %s, and %s allows only %s at %s", name, valueOf(e.value), crdName, enumOf(e.schema), rule)
	case field.ErrorTypeTypeInvalid:
		return fmt.Sprintf("%s is %s, and %s types %s as %s", name, valueOf(e.value), crdName, rule, typeOf(e.schema))
	}
	return fmt.Sprintf("%s is %s, and %s refuses it at %s: %s", name, valueOf(e.value), crdName, rule, e.Detail)
}

// remedy says what to write instead.
func remedy(e crdError) string {
	switch e.Type {
	case field.ErrorTypeRequired:
		return "add it"
	case field.ErrorTypeNotSupported:
		return "write one of them"
	case field.ErrorTypeTypeInvalid:
		return "write " + typeOf(e.schema) + typeHint(e.value, typeOf(e.schema))
	}
	return "change it"
}

// typeHint says how to write a value of the right type: a number or a
// boolean where a string is wanted is quoted; a null left out.
func typeHint(v any, want string) string {
	switch v.(type) {
	case nil:
		return ", or leave the key out"
	case int64, float64, bool:
		if want == "a string" {
			return " (quote the value)"
		}
	}
	return ""
}

// valueOf writes a value as found, with what JSON calls its type.
func valueOf(v any) string {
	raw, _ := json.Marshal(v)
	text := string(raw)
	if len(text) > 60 {
		text = text[:57] + "..."
	}
	kind := "a mapping"
	switch v.(type) {
	case string:
		kind = "a string"
	case int64, int, float64:
		kind = "a number"
		if _, ok := v.(float64); !ok {
			kind = "an integer"
		}
	case bool:
		kind = "a boolean"
	case []any:
		kind = "a list"
	case nil:
		return "null"
	}
	return text + ", " + kind
}

// typeOf says the type a schema gives: an integer, a list of strings.
func typeOf(s *structuralschema.Structural) string {
	if s == nil {
		return "another type"
	}
	if s.Type == "array" && s.Items != nil {
		return "a list of " + s.Items.Type + "s"
	}
	switch s.Type {
	case "integer", "object":
		return "an " + s.Type
	}
	return "a " + s.Type
}

// enumOf lists the values a schema allows.
func enumOf(s *structuralschema.Structural) string {
	if s == nil || s.ValueValidation == nil {
		return "other values"
	}
	var vs []string
	for _, v := range s.ValueValidation.Enum {
		vs = append(vs, fmt.Sprint(v.Object))
	}
	return strings.Join(vs, ", ")
}

// schemaAt finds the schema of a path from the resource's root.
func schemaAt(root *structuralschema.Structural, path []string) *structuralschema.Structural {
	s := root
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			s = s.Items
		} else if sub, ok := s.Properties[p]; ok {
			s = &sub
		} else {
			return nil
		}
		if s == nil {
			return nil
		}
	}
	return s
}

// dropApps takes the refused apps out of proxy.specs, in place: the
// ShinyProxy resource and application.yml share the node.
func dropApps(specs *yaml.Node, byApp map[int][]crdError) {
	if len(byApp) == 0 {
		return
	}
	kept := specs.Content[:0]
	for i, n := range specs.Content {
		if _, refused := byApp[i]; !refused {
			kept = append(kept, n)
		}
	}
	specs.Content = kept
}
