package reconcile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// Two versions of an object are the same when only what the server
// changes on every write differs; a removed key is a difference (the old
// subset rule let it stay in the cluster).
func TestSameObject(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "resourceVersion": "7", "generation": int64(2), "managedFields": []any{map[string]any{"manager": "laiki"}}},
		"data":     map[string]any{"a": "1", "b": "2"}}}
	same := live.DeepCopy()
	same.SetResourceVersion("8")
	same.SetManagedFields(nil)
	if !SameObject(live, same) {
		t.Error("only server-kept fields differ: the same")
	}
	removed := live.DeepCopy()
	unstructured.RemoveNestedField(removed.Object, "data", "b")
	if SameObject(live, removed) {
		t.Error("a removed key is a difference")
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

// Status messages and event texts are cut to what the API server takes,
// never in the middle of a character: a cut UTF-8 sequence is refused (or
// shown as garbage) where a team's message quoted a non-ASCII value.
func TestCutKeepsCharactersWhole(t *testing.T) {
	s := strings.Repeat("a", 1023) + "é and more"
	got := truncate(s)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "...") || len(got) > 1024+3 {
		t.Errorf("truncate: %q (valid %v, %d bytes)", got[1015:], utf8.ValidString(got), len(got))
	}
	long := strings.Repeat("ü", 20000)
	if m := cut(long, 32768); !utf8.ValidString(m) || len(m) > 32768 {
		t.Errorf("cut: valid %v, %d bytes", utf8.ValidString(m), len(m))
	}
}
