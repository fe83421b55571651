package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

// serveWebhook is the Laiki side of the admission benchmark, in a process
// of its own as OPA's server is: Laiki's webhook handlers (mutating and
// validating, as the API server calls them) over TLS, on the generated
// platform's sources. It prints its URL and serves until killed.
func serveWebhook(config string) error {
	cfg, err := source.LoadConfig(config)
	if err != nil {
		return err
	}
	adm := &webhook.Admission{Config: cfg, Options: engine.Options{Load: source.Options{CacheDir: filepath.Join(os.TempDir(), "laiki-bench-cache")}}}
	if _, err := adm.State(context.Background()); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(webhook.MutatePath, &ctrladmission.Webhook{Handler: webhook.Mutator{Admission: adm}})
	mux.Handle(webhook.ValidatePath, &ctrladmission.Webhook{Handler: webhook.Validator{Admission: adm}})
	srv := httptest.NewUnstartedServer(mux)
	// An ECDSA certificate, as Laiki makes (and as the chart asks of
	// cert-manager): httptest's own is RSA, whose handshakes cost more.
	cert, err := ecdsaCert()
	if err != nil {
		return err
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	if file := os.Getenv("LAIKI_BENCH_CPUPROFILE"); file != "" {
		// For looking into the webhook under load: the first 6 seconds.
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		_ = pprof.StartCPUProfile(f)
		time.AfterFunc(6*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
	}
	fmt.Println(srv.URL)
	select {}
}

// reviewBodies are AdmissionReviews of the generated apps, as the API
// server sends them for `kubectl apply` by a team's user, and the OPA
// inputs of the same documents.
func reviewBodies(p *platform, n int) (reviews, inputs [][]byte, err error) {
	for i := 0; i < n; i++ {
		text, _ := appFile(i, fmt.Sprintf("sp-%02d", i%p.Targets))
		parsed := document.Parse(document.SourceRef{Name: "team-000", Role: "team"}, "app.yaml", []byte(text), document.DefaultLimits)
		if len(parsed.Documents) != 1 {
			return nil, nil, fmt.Errorf("app %d: %v", i, parsed.Findings)
		}
		d := parsed.Documents[0]
		obj, err := kube.ToObject(d)
		if err != nil {
			return nil, nil, err
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, nil, err
		}
		review := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID:       types.UID(fmt.Sprintf("bench-%d", i)),
				Kind:      metav1.GroupVersionKind{Group: "laiki.io", Version: "v1alpha1", Kind: "ShinyProxyApp"},
				Resource:  metav1.GroupVersionResource{Group: "laiki.io", Version: "v1alpha1", Resource: "shinyproxyapps"},
				Name:      d.Spec.(map[string]any)["id"].(string),
				Namespace: kube.Name(d.TargetNamespace),
				Operation: admissionv1.Create,
				UserInfo:  authenticationv1.UserInfo{Username: "bench-user", Groups: []string{"team-000"}},
				Object:    runtime.RawExtension{Raw: raw},
			},
		}
		b, err := json.Marshal(review)
		if err != nil {
			return nil, nil, err
		}
		reviews = append(reviews, b)
		in, err := json.Marshal(map[string]any{"input": d.Input(d.Spec)})
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, in)
	}
	return reviews, inputs, nil
}

// server is a process under load.
type server struct {
	cmd *exec.Cmd
	url string
}

func (s *server) stop() (rss int64) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// startLaiki runs this program's serve-webhook in a process of its own.
func startLaiki(config string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-webhook", config)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("the webhook did not start: %w", err)
	}
	return &server{cmd: cmd, url: strings.TrimSpace(line)}, nil
}

// startOPA runs `opa run --server` with the same rules (the generated ten
// and the built-in baseline).
func startOPA(opa string, policies ...string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(opa, append([]string{"run", "--server", "--addr", addr, "--log-level", "error", "--disable-telemetry"}, policies...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return &server{cmd: cmd, url: url}, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("opa did not start on %s", addr)
}

// point is one rate of a load test.
type point struct {
	rate     int
	p50, p99 time.Duration
	success  float64
}

// attack sends targets at a constant rate for d and measures.
func attack(targets []vegeta.Target, rate int, d time.Duration) point {
	a := vegeta.NewAttacker(vegeta.TLSConfig(&tls.Config{InsecureSkipVerify: true}), vegeta.KeepAlive(true),
		vegeta.Workers(64), vegeta.MaxWorkers(4096), vegeta.Timeout(5*time.Second))
	var m vegeta.Metrics
	for res := range a.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: time.Second}, d, "bench") {
		m.Add(res)
	}
	m.Close()
	return point{rate: rate, p50: m.Latencies.P50, p99: m.Latencies.P99, success: m.Success}
}

// sweep raises the rate until the server falls over (p99 over 100 ms or
// a request failing), after a warm-up.
func sweep(targets []vegeta.Target, rates []int, d time.Duration) []point {
	attack(targets, 200, 2*time.Second)
	var out []point
	for _, r := range rates {
		p := attack(targets, r, d)
		out = append(out, p)
		if p.success < 0.999 || p.p99 > 100*time.Millisecond {
			break
		}
	}
	return out
}

func benchAdmission(t *tools, rates []int, d time.Duration) error {
	dir, err := os.MkdirTemp("", "laiki-bench-admission")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// One team source that the review's user acts as; the platform as in
	// the check benchmark.
	p, err := generate(dir, 0, 1, 10)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(p.Config)
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.Config, []byte(strings.Replace(string(text), "    allow:\n", "    subjects: {users: [bench-user]}\n    allow:\n", 1)), 0o644); err != nil {
		return err
	}
	reviews, inputs, err := reviewBodies(p, 1000)
	if err != nil {
		return err
	}

	laiki, err := startLaiki(p.Config)
	if err != nil {
		return err
	}
	var lt []vegeta.Target
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	for i, b := range reviews {
		path := webhook.ValidatePath
		if i%2 == 0 {
			path = webhook.MutatePath
		}
		lt = append(lt, vegeta.Target{Method: "POST", URL: laiki.url + path, Body: b, Header: hdr})
	}
	if err := checkAnswer(lt[0], lt[1]); err != nil {
		laiki.stop()
		return err
	}
	laikiPoints := sweep(lt, rates, d)
	laikiRSS := laiki.stop()

	baseline := filepath.Join(dir, "baseline.rego")
	if err := copyFile(filepath.Join("..", "policies", "governance", "baseline.rego"), baseline); err != nil {
		return err
	}
	opa, err := startOPA(t.opa, p.Policy, baseline)
	if err != nil {
		return err
	}
	var ot []vegeta.Target
	for _, b := range inputs {
		ot = append(ot, vegeta.Target{Method: "POST", URL: opa.url + "/v1/data/laiki/governance", Body: b, Header: hdr})
	}
	opaPoints := sweep(ot, rates, d)
	opaRSS := opa.stop()

	fmt.Printf("\nAdmission: 1,000 distinct app objects at constant rates for %s each (vegeta, loopback, 2 cores shared with the load)\n", d)
	fmt.Printf("  Laiki: AdmissionReview over TLS, mutate (pre-processors, schema) and validate (the same, then governance) alternately\n")
	fmt.Printf("  OPA %s: opa run --server over HTTP, POST /v1/data/laiki/governance (the same ten rules and the baseline)\n", t.opaVersion)
	fmt.Printf("  %8s | %10s %10s %8s | %10s %10s %8s\n", "rate/s", "laiki p50", "p99", "ok", "opa p50", "p99", "ok")
	for i := 0; i < len(laikiPoints) || i < len(opaPoints); i++ {
		row := func(ps []point) string {
			if i >= len(ps) {
				return fmt.Sprintf("%10s %10s %8s", "-", "-", "-")
			}
			return fmt.Sprintf("%10s %10s %7.1f%%", ps[i].p50.Round(10*time.Microsecond), ps[i].p99.Round(10*time.Microsecond), 100*ps[i].success)
		}
		rate := 0
		if i < len(laikiPoints) {
			rate = laikiPoints[i].rate
		} else {
			rate = opaPoints[i].rate
		}
		fmt.Printf("  %8d | %s | %s\n", rate, row(laikiPoints), row(opaPoints))
	}
	fmt.Printf("  highest rate with p99 < 10 ms: laiki %d/s, opa %d/s; peak RSS laiki %.0fM, opa %.0fM\n",
		best(laikiPoints), best(opaPoints), float64(laikiRSS)/(1<<20), float64(opaRSS)/(1<<20))
	if l, o := at(laikiPoints, 2000), at(opaPoints, 2000); l != nil && o != nil {
		fmt.Printf("  p99 at 2,000/s: laiki %s, opa %s (goal: laiki below opa, and laiki's best rate >= opa's)\n", l.p99.Round(10*time.Microsecond), o.p99.Round(10*time.Microsecond))
	}
	return nil
}

func best(ps []point) int {
	b := 0
	for _, p := range ps {
		if p.success >= 0.999 && p.p99 < 10*time.Millisecond && p.rate > b {
			b = p.rate
		}
	}
	return b
}

func at(ps []point, rate int) *point {
	for i := range ps {
		if ps[i].rate == rate {
			return &ps[i]
		}
	}
	return nil
}

// checkAnswer makes sure the webhook answers as the API server expects
// before it is measured: a benchmark of errors measures nothing.
func checkAnswer(targets ...vegeta.Target) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tg := range targets {
		resp, err := c.Post(tg.URL, "application/json", strings.NewReader(string(tg.Body)))
		if err != nil {
			return err
		}
		var review admissionv1.AdmissionReview
		err = json.NewDecoder(resp.Body).Decode(&review)
		resp.Body.Close()
		if err != nil || review.Response == nil || !review.Response.Allowed {
			return fmt.Errorf("the webhook did not allow a clean app (%s): %v %+v", tg.URL, err, review.Response)
		}
	}
	return nil
}

func ecdsaCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
