package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// cacheSources are the sources of the cache tests: the bench platform's,
// with a second team (bob, sp-0 only) and a platform user (paula).
const cacheSources = "sources:\n  - name: platform\n    path: platform\n    role: platform\n    subjects: {users: [paula]}\n" +
	"  - name: team-a\n    path: team-a\n    allow: {resource-types: [ShinyProxyApp], target-namespaces: [sp-0, sp-1]}\n    subjects: {users: [alice]}\n" +
	"  - name: team-b\n    path: team-b\n    allow: {resource-types: [ShinyProxyApp], target-namespaces: [sp-0]}\n    subjects: {users: [bob]}\n"

// cachePlatform writes the platform of benchPlatform with cacheSources and
// returns its directory.
func cachePlatform(t *testing.T) string {
	dir := t.TempDir()
	write := func(name, text string) { writeFile(t, dir, name, text) }
	write("laiki.yaml", cacheSources)
	for _, ns := range []string{"sp-0", "sp-1"} {
		write("platform/"+ns+"/sp.yaml", "laiki-metadata: {target-type: ShinyProxy, name: apps, namespace: "+ns+"}\nlaiki-spec: {proxy: {title: Apps}}\n")
		write("platform/"+ns+"/defaults.yaml", defaults(ns, "1Gi"))
	}
	write("platform/rules.rego", platformRules)
	write("team-a/.keep", "")
	write("team-b/.keep", "")
	return dir
}

func defaults(ns, memory string) string {
	return "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: defaults, target-namespace: " + ns + "}\n" +
		"laiki-spec:\n  fallback: {container-memory-limit: " + memory + ", container-cpu-request: 0.5}\n  append: {container-env: {PLATFORM: bench}}\n  override: {container-privileged: false}\n"
}

func newAdmission(t *testing.T, dir string, cacheSize int, reader client.Reader) *Admission {
	t.Helper()
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Admission{Config: cfg, CacheSize: cacheSize, Reader: reader, Options: pipeline.Options{Load: source.Options{CacheDir: t.TempDir()}}}
	if _, err := a.State(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

// request is an admission request for obj (old: the stored object of an
// update), by user.
func request(t *testing.T, op admissionv1.Operation, user string, obj, old map[string]any) admission.Request {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op,
		Object: runtime.RawExtension{Raw: raw}, UserInfo: authenticationv1.UserInfo{Username: user}}}
	if old != nil {
		req.OldObject.Raw, _ = json.Marshal(old)
	}
	return req
}

// edit returns a deep copy of obj changed by f.
func edit(obj map[string]any, f func(o, meta, spec map[string]any)) map[string]any {
	raw, _ := json.Marshal(obj)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	meta, _ := out["metadata"].(map[string]any)
	spec, _ := out["spec"].(map[string]any)
	f(out, meta, spec)
	return out
}

func annotate(meta map[string]any, k, v string) {
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	ann[k] = v
}

// answer is what a response says, with its patch applied to the object
// (the patch's form is jsonpatch's to choose).
type answer struct {
	Allowed     bool
	Code        int32
	Message     string
	Warnings    []string
	Audit       map[string]string
	Patched     map[string]any
	PatchedNone bool
}

func answerOf(t *testing.T, obj map[string]any, resp admission.Response) answer {
	t.Helper()
	a := answer{Allowed: resp.Allowed, Warnings: resp.Warnings, Audit: resp.AuditAnnotations}
	if resp.Result != nil {
		a.Code, a.Message = resp.Result.Code, resp.Result.Message
	}
	ops := patchOf(t, resp)
	if len(ops) == 0 {
		a.PatchedNone = true
		return a
	}
	patched, err := applyPatch(obj, ops)
	if err != nil {
		t.Fatal(err)
	}
	a.Patched = patched.(map[string]any)
	return a
}

// Every request is answered the same from a remembered judgment as from a
// fresh one, for both webhooks: allowed, refused by governance (remembered
// too), refused for errors, warned, mutated, other owners and updates.
func TestCachedJudgmentEqualsFresh(t *testing.T) {
	dir := cachePlatform(t)
	cachedAdm := newAdmission(t, dir, 0, nil)
	fresh := newAdmission(t, dir, -1, nil)

	clean := appObject(0)
	stored := edit(clean, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationSource, "team-a") })
	type tc struct {
		name     string
		op       admissionv1.Operation
		user     string
		obj, old map[string]any
	}
	cases := []tc{
		{"clean", admissionv1.Create, "alice", clean, nil},
		{"privileged, overridden with a warning", admissionv1.Create, "alice", appObject(1), nil},
		{"no limits, defaulted", admissionv1.Create, "alice", appObject(2), nil},
		{"governance denial", admissionv1.Create, "alice", edit(clean, func(_, _, spec map[string]any) { spec["container-image"] = "docker.io/x/y:1" }), nil},
		{"governance warning", admissionv1.Create, "alice", edit(clean, func(_, _, spec map[string]any) { delete(spec, "display-name") }), nil},
		{"unknown target", admissionv1.Create, "alice", edit(clean, func(_, _, spec map[string]any) { spec["targetName"] = "nope" }), nil},
		{"schema error", admissionv1.Create, "alice", edit(clean, func(_, _, spec map[string]any) { spec["port"] = "many" }), nil},
		{"another team, namespace not allowed", admissionv1.Create, "bob", appObject(1), nil},
		{"another team, allowed", admissionv1.Create, "bob", clean, nil},
		{"a stranger", admissionv1.Create, "mallory", clean, nil},
		{"the owner's update", admissionv1.Update, "alice", stored, stored},
		{"another team's update", admissionv1.Update, "bob", clean, stored},
		{"the platform's update of a team's object", admissionv1.Update, "paula", stored, stored},
		{"the platform's create", admissionv1.Create, "paula", clean, nil},
		{"a claimed owner", admissionv1.Create, "alice", edit(clean, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationSource, "team-b") }), nil},
		{"names that agree", admissionv1.Create, "alice", edit(clean, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationName, "app-00000") }), nil},
		{"names that do not", admissionv1.Create, "alice", edit(clean, func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationName, "other") }), nil},
		{"a dry run's metadata", admissionv1.Create, "alice", edit(clean, func(_, meta, _ map[string]any) {
			meta["uid"], meta["creationTimestamp"], meta["labels"] = "1234", "2026-01-01T00:00:00Z", map[string]any{"x": "y"}
		}), nil},
		{"a pre-processor", admissionv1.Create, "paula", map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "PreProcessor",
			"metadata": map[string]any{"name": "more", "namespace": "sp-0"},
			"spec":     map[string]any{"preProcessorName": "ShinyProxyAppDefaultsPreProcessor", "parameters": map[string]any{"fallback": map[string]any{"port": 8080}}}}, nil},
	}
	// The mutated objects, as the validating webhook gets them.
	for _, c := range cases[:3] {
		resp := (Mutator{fresh}).Handle(context.Background(), request(t, c.op, c.user, c.obj, c.old))
		if !resp.Allowed || len(patchOf(t, resp)) == 0 {
			t.Fatalf("%s: no mutation: %+v", c.name, resp.AdmissionResponse)
		}
		cases = append(cases, tc{c.name + ", mutated", c.op, c.user, answerOf(t, c.obj, resp).Patched, c.old})
	}
	ctx := context.Background()
	for pass := 0; pass < 2; pass++ {
		for _, c := range cases {
			req := request(t, c.op, c.user, c.obj, c.old)
			for _, h := range []struct {
				name     string
				cached   admission.Handler
				uncached admission.Handler
			}{{"mutate", Mutator{cachedAdm}, Mutator{fresh}}, {"validate", Validator{cachedAdm}, Validator{fresh}}} {
				got, want := answerOf(t, c.obj, h.cached.Handle(ctx, req)), answerOf(t, c.obj, h.uncached.Handle(ctx, req))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("pass %d, %s, %s:\n got %+v\nwant %+v", pass, c.name, h.name, got, want)
				}
			}
		}
	}
	if cachedAdm.cache.hits < len(cases) {
		t.Errorf("%d answers from the cache of %d requests: the second pass should come from it", cachedAdm.cache.hits, 2*len(cases))
	}
	if fresh.cache.hits != 0 {
		t.Errorf("CacheSize -1 remembered %d", fresh.cache.hits)
	}
}

// The key of a judgment changes with everything the engine reads of an
// object, and not with the metadata that changes between a dry run and
// the apply or from update to update.
func TestJudgmentKey(t *testing.T) {
	obj := edit(appObject(0), func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationSource, "team-a") })
	team := &source.Source{Name: "team-a", Role: source.RoleTeam}
	base, ok := judgmentKey(obj, team, true)
	if !ok {
		t.Fatal("a JSON object is not cacheable")
	}
	differ := map[string]func(o, meta, spec map[string]any){
		"kind":                func(o, _, _ map[string]any) { o["kind"] = "AWSECRRepository" },
		"apiVersion":          func(o, _, _ map[string]any) { o["apiVersion"] = "laiki.io/v1" },
		"name":                func(_, meta, _ map[string]any) { meta["name"] = "other" },
		"namespace":           func(_, meta, _ map[string]any) { meta["namespace"] = "sp-1" },
		"laiki.io/name":       func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationName, "App") },
		"laiki.io/namespace":  func(_, meta, _ map[string]any) { annotate(meta, kube.AnnotationNamespace, "SP") },
		"a spec value":        func(_, _, spec map[string]any) { spec["port"] = 3839.0 },
		"a spec value's type": func(_, _, spec map[string]any) { spec["port"] = "3838" },
		"a nested spec value": func(_, _, spec map[string]any) { spec["container-env"].(map[string]any)["LOG_LEVEL"] = "debug" },
		"a spec key":          func(_, _, spec map[string]any) { spec["port2"] = spec["port"]; delete(spec, "port") },
		"a list":              func(_, _, spec map[string]any) { spec["access-groups"] = []any{"a", "b"} },
		"null for nothing":    func(_, _, spec map[string]any) { spec["x"] = nil },
		"no spec":             func(o, _, _ map[string]any) { delete(o, "spec") },
		"a value shifted keys": func(_, _, spec map[string]any) {
			spec["description"] = "A generated app, variant"
			spec["id"] = "@variant@.app-00000"
		},
	}
	for name, f := range differ {
		if k, _ := judgmentKey(edit(obj, f), team, true); k == base {
			t.Errorf("%s: the key did not change", name)
		}
	}
	same := map[string]func(o, meta, spec map[string]any){
		"uid":               func(_, meta, _ map[string]any) { meta["uid"] = "u-1" },
		"creationTimestamp": func(_, meta, _ map[string]any) { meta["creationTimestamp"] = "2026-01-01T00:00:00Z" },
		"resourceVersion":   func(_, meta, _ map[string]any) { meta["resourceVersion"] = "42" },
		"managedFields":     func(_, meta, _ map[string]any) { meta["managedFields"] = []any{map[string]any{"manager": "kubectl"}} },
		"labels":            func(_, meta, _ map[string]any) { meta["labels"] = map[string]any{"a": "b"} },
		"another annotation": func(_, meta, _ map[string]any) {
			annotate(meta, "kubectl.kubernetes.io/last-applied-configuration", "{}")
		},
		"status": func(o, _, _ map[string]any) { o["status"] = map[string]any{"phase": "Ready"} },
	}
	for name, f := range same {
		if k, _ := judgmentKey(edit(obj, f), team, true); k != base {
			t.Errorf("%s: the key changed", name)
		}
	}
	// What the engine makes of each object that must not share a key does
	// differ (else the list above would test nothing); the API version is
	// in the key though the engine does not read it, to be safe, and
	// laiki.io/name names targets and pre-processors, not resources.
	d0, _, _ := cluster.ObjectDocument(obj, team.Ref())
	pp := map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "PreProcessor", "metadata": map[string]any{"name": "more", "namespace": "sp-0"},
		"spec": map[string]any{"preProcessorName": "ShinyProxyAppDefaultsPreProcessor"}}
	p0, _, _ := cluster.ObjectDocument(pp, team.Ref())
	if p, _, _ := cluster.ObjectDocument(edit(pp, differ["laiki.io/name"]), team.Ref()); p.Name == p0.Name {
		t.Error("laiki.io/name: the engine reads the same pre-processor")
	}
	for name, f := range differ {
		if name == "apiVersion" || name == "laiki.io/name" {
			continue
		}
		d, _, err := cluster.ObjectDocument(edit(obj, f), team.Ref())
		if err == nil && d.File == d0.File && reflect.DeepEqual(d.Metadata, d0.Metadata) && reflect.DeepEqual(d.Spec, d0.Spec) {
			t.Errorf("%s: the engine reads the same document", name)
		}
	}
	for name, k := range map[string]func() ([32]byte, bool){
		"another owner": func() ([32]byte, bool) {
			return judgmentKey(obj, &source.Source{Name: "team-b", Role: source.RoleTeam}, true)
		},
		"another role": func() ([32]byte, bool) {
			return judgmentKey(obj, &source.Source{Name: "team-a", Role: source.RolePlatform}, true)
		},
		"no governance":  func() ([32]byte, bool) { return judgmentKey(obj, team, false) },
		"the same again": func() ([32]byte, bool) { return judgmentKey(edit(obj, func(_, _, _ map[string]any) {}), team, true) },
	} {
		got, _ := k()
		if (got == base) != (name == "the same again") {
			t.Errorf("%s: equal keys %v", name, got == base)
		}
	}
}

// objects is a client.Reader of Laiki objects in the cluster, for the
// webhook's state (cluster.Documents lists every kind).
type objects struct {
	mu    sync.Mutex
	items []unstructured.Unstructured
}

func (o *objects) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return fmt.Errorf("not used")
}

func (o *objects) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	ul := list.(*unstructured.UnstructuredList)
	for _, u := range o.items {
		if u.GetKind()+"List" == ul.GetKind() {
			ul.Items = append(ul.Items, *u.DeepCopy())
		}
	}
	return nil
}

// A judgment is never answered once the state changed: new policies, a
// changed pre-processor (the platform's sources, re-read), a new object in
// the cluster (MarkDirty).
func TestCacheNeverAnswersForAnotherState(t *testing.T) {
	ctx := context.Background()
	dir := cachePlatform(t)
	inCluster := &objects{}
	a := newAdmission(t, dir, 0, inCluster)
	obj := appObject(2) // no limits: the defaults give them
	validate := func() admission.Response {
		return (Validator{a}).Handle(ctx, request(t, admissionv1.Create, "alice", obj, nil))
	}
	mutate := func() admission.Response {
		return (Mutator{a}).Handle(ctx, request(t, admissionv1.Create, "alice", obj, nil))
	}
	remembered := func(what string, f func() admission.Response) admission.Response {
		t.Helper()
		f()
		hits := a.cache.hits
		resp := f()
		if a.cache.hits != hits+1 {
			t.Fatalf("%s: not answered from the cache", what)
		}
		return resp
	}
	memory := func(resp admission.Response) any {
		spec, _ := answerOf(t, obj, resp).Patched["spec"].(map[string]any)
		return spec["container-memory-limit"]
	}
	if resp := remembered("validate", validate); !resp.Allowed {
		t.Fatalf("refused: %+v", resp.Result)
	}
	if got := memory(remembered("mutate", mutate)); got != "1Gi" {
		t.Fatalf("memory limit %v, want 1Gi", got)
	}

	// The policies change: the same object is refused.
	writeFile(t, dir, "platform/more.rego", "package laiki.governance.more\n\ndeny contains \"port: not 3838\" if input[\"laiki-spec\"].port == 3838\n")
	if _, err := a.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := validate(); resp.Allowed || !strings.Contains(resp.Result.Message, "port: not 3838") {
		t.Errorf("new policies: %+v", resp.Result)
	}
	if resp := remembered("validate, new policies", validate); resp.Allowed {
		t.Error("new policies: allowed from the cache")
	}

	// A pre-processor changes: the mutation gives its new default.
	writeFile(t, dir, "platform/sp-0/defaults.yaml", defaults("sp-0", "3Gi"))
	if _, err := a.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got := memory(mutate()); got != "3Gi" {
		t.Errorf("changed pre-processor: memory limit %v, want 3Gi", got)
	}
	if got := memory(remembered("mutate, changed pre-processor", mutate)); got != "3Gi" {
		t.Errorf("changed pre-processor, from the cache: memory limit %v, want 3Gi", got)
	}

	// Another team's app of the same id appears in the cluster: alice's
	// is a duplicate, as soon as the informer says something changed.
	other := edit(obj, func(_, meta, _ map[string]any) {
		meta["name"] = "copy"
		annotate(meta, kube.AnnotationSource, "team-b")
	})
	inCluster.mu.Lock()
	inCluster.items = append(inCluster.items, unstructured.Unstructured{Object: other})
	inCluster.mu.Unlock()
	a.MarkDirty()
	if resp := validate(); resp.Allowed {
		t.Error("a duplicate in the cluster: allowed")
	}
	if resp := mutate(); resp.Allowed {
		t.Error("a duplicate in the cluster: the mutation allowed")
	}
}
