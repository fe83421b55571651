package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
)

// platformRules are governance rules of the kind a platform writes (they
// read the spec after pre-processors), so that a benchmark pays for
// governance as a real platform's webhook does.
const platformRules = `package laiki.governance.platform

spec := input["laiki-spec"]

image := object.get(spec, "container-image", "")

deny contains "container-privileged: no privileged containers" if spec["container-privileged"] == true

deny contains "container-memory-limit: set a memory limit" if not spec["container-memory-limit"]

deny contains sprintf("container-image: %s is not from registry.example.com", [image]) if {
	not startswith(image, "registry.example.com/")
}

deny contains "container-image: pin a version" if endswith(image, ":latest")

deny contains "container-network: no host networking" if spec["container-network"] == "host"

warn contains "container-cpu-request: set a CPU request" if not spec["container-cpu-request"]

deny contains "max-instances: at most 10" if spec["max-instances"] > 10

warn contains "display-name: name the app for people" if not spec["display-name"]

deny contains "id: lower case only" if spec.id != lower(spec.id)

deny contains sprintf("container-env: %s looks like a secret", [k]) if {
	some k, _ in object.get(spec, "container-env", {})
	contains(upper(k), "PASSWORD")
}
`

// benchPlatform writes a platform of two ShinyProxy targets, each with the
// defaults pre-processor, the rules above, and team-a (user alice) allowed
// to bind apps to both; it returns an Admission on it, its state built.
func benchPlatform(tb testing.TB) *Admission {
	tb.Helper()
	dir := tb.TempDir()
	write := func(name, text string) { writeFile(tb, dir, name, text) }
	write("laiki.yaml", "sources:\n  - name: platform\n    path: platform\n    role: platform\n"+
		"  - name: team-a\n    path: team-a\n    allow: {resource-types: [ShinyProxyApp], target-namespaces: [sp-0, sp-1]}\n    subjects: {users: [alice]}\n")
	for _, ns := range []string{"sp-0", "sp-1"} {
		write("platform/"+ns+"/sp.yaml", "laiki-metadata: {target-type: ShinyProxy, name: apps, namespace: "+ns+"}\nlaiki-spec: {proxy: {title: Apps}}\n")
		write("platform/"+ns+"/defaults.yaml", "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: defaults, target-namespace: "+ns+"}\n"+
			"laiki-spec:\n  fallback: {container-memory-limit: 1Gi, container-cpu-request: 0.5}\n  append: {container-env: {PLATFORM: bench}}\n  override: {container-privileged: false}\n")
	}
	write("platform/rules.rego", platformRules)
	write("team-a/.keep", "")
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	a := &Admission{Config: cfg, Options: pipeline.Options{Load: source.Options{CacheDir: tb.TempDir()}}}
	if _, err := a.State(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return a
}

// appObject is app i as kubectl sends it. Its description holds the
// marker variantMark, which admissions replaces to make otherwise equal
// apps differ.
func appObject(i int) map[string]any {
	spec := map[string]any{"targetName": "apps", "id": fmt.Sprintf("app-%05d", i), "display-name": fmt.Sprintf("App %d", i),
		"description":     "A generated app, variant " + variantMark + ".",
		"container-image": fmt.Sprintf("registry.example.com/team/app-%05d:1.%d", i, i%9),
		"container-env":   map[string]any{"APP_MODE": "production", "LOG_LEVEL": "info"},
		"port":            3838, "max-instances": 4}
	switch i % 4 {
	case 1:
		spec["container-privileged"] = true // overridden, with a warning
	case 2:
	default:
		spec["container-memory-limit"], spec["container-cpu-request"] = "2Gi", 1
	}
	return map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp",
		"metadata": map[string]any{"name": spec["id"], "namespace": fmt.Sprintf("sp-%d", i%2)},
		"spec":     spec}
}

const variantMark = "@variant@"

// review is the AdmissionReview the API server sends for obj (and, on
// update, the stored old).
func review(tb testing.TB, op admissionv1.Operation, user string, obj, old map[string]any, dryRun bool) []byte {
	tb.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{UID: types.UID("u-" + strconv.Itoa(len(raw))),
		Kind:      metav1.GroupVersionKind{Group: "laiki.io", Version: "v1alpha1", Kind: "ShinyProxyApp"},
		Resource:  metav1.GroupVersionResource{Group: "laiki.io", Version: "v1alpha1", Resource: "shinyproxyapps"},
		Operation: op, UserInfo: authenticationv1.UserInfo{Username: user}, DryRun: &dryRun,
		Object: runtime.RawExtension{Raw: raw}}
	if old != nil {
		if req.OldObject.Raw, err = json.Marshal(old); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// serve posts an AdmissionReview to a handler as the API server does and
// returns the response.
func serve(tb testing.TB, h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	tb.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, r)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		tb.Fatalf("not an AdmissionReview (%v): %s", err, rec.Body.String())
	}
	return out.Response
}

// patched applies a response's JSON patch to obj, as the API server does
// between the mutating and the validating webhook.
func patched(tb testing.TB, obj map[string]any, resp *admissionv1.AdmissionResponse) map[string]any {
	tb.Helper()
	raw, _ := json.Marshal(obj)
	var out map[string]any
	_ = json.Unmarshal(raw, &out) // a deep copy
	if len(resp.Patch) == 0 {
		return out
	}
	var ops []struct {
		Op, Path string
		Value    any
	}
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		tb.Fatal(err)
	}
	for _, op := range ops {
		if err := applyOp(out, op.Op, op.Path, op.Value); err != nil {
			tb.Fatalf("patch %s %s: %v", op.Op, op.Path, err)
		}
	}
	return out
}

// applyOp applies one add, replace or remove of RFC 6902 to a JSON tree of
// maps (what Laiki's patches touch: maps only, no lists).
func applyOp(root map[string]any, op, path string, value any) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q", path)
	}
	parts := strings.Split(path[1:], "/")
	for i := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(parts[i], "~1", "/"), "~0", "~")
	}
	m := root
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return fmt.Errorf("no map at %s", p)
		}
		m = next
	}
	last := parts[len(parts)-1]
	switch op {
	case "add", "replace":
		m[last] = value
	case "remove":
		delete(m, last)
	default:
		return fmt.Errorf("op %s", op)
	}
	return nil
}

// admissions are n admissions as the API server makes them: the mutating
// webhook's review of an app, and the validating webhook's review of the app
// as the mutation left it. There are 100 apps; when distinct, every
// admission's app is new (its description differs; the pre-processors do
// not touch it, so the mutated app differs the same way), else the apps
// repeat.
func admissions(tb testing.TB, a *Admission, n int, distinct bool) (mutate, validate [][]byte) {
	m := &admission.Webhook{Handler: Mutator{a}}
	var baseM, baseV [][]byte
	for i := 0; i < 100; i++ {
		obj := appObject(i)
		body := review(tb, admissionv1.Create, "alice", obj, nil, false)
		resp := serve(tb, m, body)
		if !resp.Allowed {
			tb.Fatalf("app %d refused: %+v", i, resp.Result)
		}
		baseM = append(baseM, body)
		baseV = append(baseV, review(tb, admissionv1.Create, "alice", patched(tb, obj, resp), nil, false))
	}
	for i := 0; i < n; i++ {
		variant := []byte("0")
		if distinct {
			variant = strconv.AppendInt(nil, int64(i), 10)
		}
		mutate = append(mutate, bytes.Replace(baseM[i%100], []byte(variantMark), variant, 1))
		validate = append(validate, bytes.Replace(baseV[i%100], []byte(variantMark), variant, 1))
	}
	return mutate, validate
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAdmission is one admission of an app through both webhooks, as
// the API server calls them (AdmissionReview in, AdmissionReview out): new
// apps every time, or apps seen before (a dry run then the apply, the
// reconcile loop's dry runs, a re-applied manifest).
func BenchmarkAdmission(b *testing.B) {
	a := benchPlatform(b)
	m := &admission.Webhook{Handler: Mutator{a}}
	v := &admission.Webhook{Handler: Validator{a}}
	for _, distinct := range []bool{true, false} {
		name := "distinct"
		if !distinct {
			name = "repeated"
		}
		b.Run(name, func(b *testing.B) {
			mutate, validate := admissions(b, a, b.N, distinct)
			b.ReportAllocs()
			b.ResetTimer()
			// The process's CPU time per admission, GC included: on a
			// shared machine what other processes change least.
			start := cpuTime()
			defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
			for i := 0; i < b.N; i++ {
				for _, step := range []struct {
					h    http.Handler
					body []byte
				}{{m, mutate[i]}, {v, validate[i]}} {
					rec := httptest.NewRecorder()
					r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(step.body))
					r.Header.Set("Content-Type", "application/json")
					// On a goroutine of its own, as net/http's HTTP/2
					// server runs each request: its stack starts small.
					done := make(chan struct{})
					go func() {
						defer close(done)
						step.h.ServeHTTP(rec, r)
					}()
					<-done
					if rec.Code != http.StatusOK {
						b.Fatal(rec.Body.String())
					}
				}
			}
		})
	}
}
