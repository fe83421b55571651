package reconcile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestContains(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"name": "x", "labels": map[string]any{"a": "1", "b": "2"}, "resourceVersion": "7"},
		"spec":     map[string]any{"replicas": int64(1), "cpu": 0.25, "list": []any{"a", map[string]any{"k": "v", "extra": true}}},
		"status":   map[string]any{"ready": true},
	}
	cases := []struct {
		name string
		want any
		ok   bool
	}{
		{"a subset", map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "1"}}}, true},
		{"an integer the same as a float", map[string]any{"spec": map[string]any{"replicas": 1.0}}, true},
		{"a float the same", map[string]any{"spec": map[string]any{"cpu": 0.25}}, true},
		{"list items as subsets", map[string]any{"spec": map[string]any{"list": []any{"a", map[string]any{"k": "v"}}}}, true},
		{"a null the server drops", map[string]any{"spec": map[string]any{"gone": nil}}, true},
		{"a changed value", map[string]any{"spec": map[string]any{"replicas": int64(2)}}, false},
		{"a missing key", map[string]any{"spec": map[string]any{"new": "x"}}, false},
		{"a shorter list", map[string]any{"spec": map[string]any{"list": []any{"a"}}}, false},
		{"a type change", map[string]any{"spec": map[string]any{"cpu": "0.25"}}, false},
	}
	for _, c := range cases {
		if got := Contains(live, c.want); got != c.ok {
			t.Errorf("%s: Contains = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestDiff(t *testing.T) {
	before := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "namespace": "n", "resourceVersion": "3", "managedFields": []any{}},
		"data":     map[string]any{"a": "1"}}}
	after := before.DeepCopy()
	after.Object["data"] = map[string]any{"a": "2"}
	d := Diff(before, after)
	for _, want := range []string{"--- live/ConfigMap/n/c", "+++ laiki/ConfigMap/n/c", "-  a: \"1\"", "+  a: \"2\""} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "resourceVersion") || strings.Contains(d, "managedFields") {
		t.Errorf("the diff shows fields the server keeps:\n%s", d)
	}
	if created := Diff(nil, after); !strings.Contains(created, "--- /dev/null") {
		t.Errorf("a new object's diff:\n%s", created)
	}
}

func TestPushAuthentication(t *testing.T) {
	o := &Operator{PushSecret: "s3cret"}
	o.trigger = make(chan event.GenericEvent, 1)
	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte("s3cret"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	cases := []struct {
		name, method, header, value string
		code                        int
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"no secret", http.MethodPost, "", "", http.StatusUnauthorized},
		{"wrong GitHub signature", http.MethodPost, "X-Hub-Signature-256", sign("other"), http.StatusUnauthorized},
		{"GitHub signature", http.MethodPost, "X-Hub-Signature-256", sign("{}"), http.StatusAccepted},
		{"wrong GitLab token", http.MethodPost, "X-Gitlab-Token", "nope", http.StatusUnauthorized},
		{"GitLab token", http.MethodPost, "X-Gitlab-Token", "s3cret", http.StatusAccepted},
		{"Laiki token", http.MethodPost, "X-Laiki-Token", "s3cret", http.StatusAccepted},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, PushPath, strings.NewReader("{}"))
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		rec := httptest.NewRecorder()
		o.PushHandler().ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.code)
		}
		select {
		case <-o.trigger:
			if c.code != http.StatusAccepted {
				t.Errorf("%s: a refused push started a run", c.name)
			}
		default:
			if c.code == http.StatusAccepted {
				t.Errorf("%s: an accepted push started no run", c.name)
			}
		}
	}
}
