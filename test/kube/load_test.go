package kube

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/laiki-platform/laiki/webhook"
)

// The webhook under a steady load for a bounded time, while the platform's
// policies change under it (a new set every second, one in three broken):
// every request is answered (allowed or denied, never an error), and after
// the load the goroutines and the heap are back where they were.
func TestWebhookLoadWithReloads(t *testing.T) {
	const (
		duration = 8 * time.Second
		rate     = 300 // requests per second, mutate and validate alternately
	)
	wo := env.WebhookInstallOptions
	base := "https://" + net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort))
	var bodies [][]byte
	for i := range 50 {
		obj := object(t, app(fmt.Sprintf("load-%02d", i), ""))
		raw, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: types.UID(fmt.Sprint("load-", i)), Operation: admissionv1.Create,
				Kind:     metav1.GroupVersionKind{Group: "laiki.io", Version: "v1alpha1", Kind: "ShinyProxyApp"},
				Resource: metav1.GroupVersionResource{Group: "laiki.io", Version: "v1alpha1", Resource: "shinyproxyapps"},
				Name:     obj.GetName(), Namespace: obj.GetNamespace(),
				UserInfo: authenticationv1.UserInfo{Username: "alice", Groups: []string{"team-a"}},
				Object:   k8sruntime.RawExtension{Raw: raw}},
		})
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 16}
	c := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	measure := func() (int, uint64) {
		transport.CloseIdleConnections()
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	// A first request warms the webhook's state up.
	if _, err := c.Post(base+webhook.ValidatePath, "application/json", bytes.NewReader(bodies[0])); err != nil {
		t.Fatal(err)
	}
	goroutinesBefore, heapBefore := measure()

	rule := filepath.Join(platformDir, "load.rego")
	t.Cleanup(func() { os.Remove(rule); time.Sleep(3 * refresh) })
	stop := make(chan struct{})
	var reloads int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			text := fmt.Sprintf("package laiki.governance.load\n\ndeny contains \"load %d\" if {\n\tinput[\"laiki-spec\"].id == \"load-%02d\"\n}\n", i, i%50)
			if i%3 == 2 {
				text = "package laiki.governance.load\n\ndeny contains x if {\n" // broken: refused, the set in force stays
			}
			if err := os.WriteFile(rule, []byte(text), 0o644); err != nil {
				t.Error(err)
				return
			}
			reloads++
		}
	}()

	var sent, answered, denied, failures atomic.Int64
	var firstFailure atomic.Value
	tick := time.NewTicker(time.Second / rate)
	deadline := time.After(duration)
	var inflight sync.WaitGroup
load:
	for i := 0; ; i++ {
		select {
		case <-deadline:
			break load
		case <-tick.C:
		}
		path := webhook.ValidatePath
		if i%2 == 0 {
			path = webhook.MutatePath
		}
		body := bodies[i%len(bodies)]
		sent.Add(1)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			resp, err := c.Post(base+path, "application/json", bytes.NewReader(body))
			var review admissionv1.AdmissionReview
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&review)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != http.StatusOK || review.Response == nil) {
					err = fmt.Errorf("HTTP %d, %+v", resp.StatusCode, review.Response)
				}
				if err == nil && !review.Response.Allowed && review.Response.Result != nil && review.Response.Result.Code >= 500 {
					err = fmt.Errorf("errored: %s", review.Response.Result.Message)
				}
			}
			if err != nil {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, err.Error())
				return
			}
			answered.Add(1)
			if !review.Response.Allowed {
				denied.Add(1)
			}
		}()
	}
	tick.Stop()
	inflight.Wait()
	close(stop)
	wg.Wait()

	goroutinesAfter, heapAfter := measure()
	t.Logf("%d requests in %s (%d/s) with %d policy changes: %d answered (%d denied), %d failed; goroutines %d -> %d, heap %.1f -> %.1f MiB",
		sent.Load(), duration, rate, reloads, answered.Load(), denied.Load(), failures.Load(), goroutinesBefore, goroutinesAfter,
		float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20))
	if failures.Load() > 0 {
		t.Errorf("%d requests failed, e.g. %v", failures.Load(), firstFailure.Load())
	}
	if denied.Load() == 0 {
		t.Error("no request was denied: the changing rule never decided")
	}
	if goroutinesAfter > goroutinesBefore+10 {
		t.Errorf("goroutines grew from %d to %d", goroutinesBefore, goroutinesAfter)
	}
	if heapAfter > heapBefore+32<<20 {
		t.Errorf("the heap grew from %.1f to %.1f MiB", float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20))
	}
}
