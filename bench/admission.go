package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/webhook"
)

// Knobs of the admission benchmark.
var (
	admissionMix = flag.String("admission-mix", "distinct", "admission traffic: distinct (every admission a new app), "+
		"dry-run (each admission made twice, as a server-side dry run and then for real), repeat (the same 1,000 apps over and over)")
	admissionHTTP1 = flag.Bool("admission-http1", false, "talk HTTP/1.1 to Laiki's webhook (the API server talks HTTP/2 to webhooks, one connection)")
	admissionOPA   = flag.Bool("admission-opa", true, "measure OPA's server too")
)

// serveWebhook is the Laiki side of the admission benchmark, in a process
// of its own as OPA's server is: Laiki's webhook handlers (mutating and
// validating, as the API server calls them) on controller-runtime's
// webhook server, as `laiki operator` and `laiki webhook` serve them (TLS
// with an ECDSA certificate as Laiki makes, HTTP/2, metrics), on the
// generated platform's sources. It prints its URL and serves until
// SIGTERM. With LAIKI_BENCH_CPUPROFILE set it writes a CPU profile of
// everything it served.
func serveWebhook(config string) error {
	ctrllog.SetLogger(logr.Discard())
	cfg, err := source.LoadConfig(config)
	if err != nil {
		return err
	}
	adm := &webhook.Admission{Config: cfg, Options: pipeline.Options{Load: source.Options{CacheDir: filepath.Join(os.TempDir(), "laiki-bench-cache")}}}
	if _, err := adm.State(context.Background()); err != nil {
		return err
	}
	certDir, err := os.MkdirTemp("", "laiki-bench-cert")
	if err != nil {
		return err
	}
	defer os.RemoveAll(certDir)
	if err := writeCert(certDir); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir})
	srv.Register(webhook.MutatePath, &ctrladmission.Webhook{Handler: webhook.Mutator{Admission: adm}})
	srv.Register(webhook.ValidatePath, &ctrladmission.Webhook{Handler: webhook.Validator{Admission: adm}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := make(chan error, 1)
	go func() { failed <- srv.Start(ctx) }()
	for deadline := time.Now().Add(20 * time.Second); srv.StartedChecker()(nil) != nil; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-failed:
			return fmt.Errorf("the webhook server: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook server did not start")
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	if file := os.Getenv("LAIKI_BENCH_CPUPROFILE"); file != "" {
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("https://127.0.0.1:%d\n", port)
	select {
	case <-stop:
		return nil
	case err := <-failed:
		return fmt.Errorf("the webhook server: %v", err)
	}
}

// Markers in the bodies of reviewBodies, replaced for each request: which
// admission's app it is (in its description, which the pre-processors do
// not touch) and the request's UID.
var (
	markApp = []byte("@app@")
	markUID = []byte("@uid@")
)

// reviewBodies are AdmissionReviews of the generated apps, as the API
// server sends them to the mutating webhook for `kubectl apply` by a team's
// user, and the OPA inputs of the same documents.
func reviewBodies(p *platform, n int) (reviews, inputs [][]byte, err error) {
	for i := 0; i < n; i++ {
		text, _, _ := appFile(i, fmt.Sprintf("sp-%02d", i%p.Targets))
		parsed := document.Parse(document.SourceRef{Name: "team-000", Role: "team"}, "app.yaml", []byte(text), document.DefaultLimits)
		if len(parsed.Documents) != 1 {
			return nil, nil, fmt.Errorf("app %d: %v", i, parsed.Findings)
		}
		d := parsed.Documents[0]
		in, err := json.Marshal(map[string]any{"input": d.Input(d.Spec)})
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, in)
		spec := d.Spec.(map[string]any)
		spec["description"] = fmt.Sprintf("%s (%s)", spec["description"], markApp)
		obj, err := kube.ToObject(d)
		if err != nil {
			return nil, nil, err
		}
		b, err := reviewOf(obj, spec["id"].(string), kube.Name(d.TargetNamespace))
		if err != nil {
			return nil, nil, err
		}
		reviews = append(reviews, b)
	}
	return reviews, inputs, nil
}

// reviewOf is the AdmissionReview of the creation of obj by a user of the
// team's source.
func reviewOf(obj map[string]any, name, namespace string) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dryRun := false
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("bench-" + string(markUID)),
			Kind:      metav1.GroupVersionKind{Group: "laiki.io", Version: "v1alpha1", Kind: "ShinyProxyApp"},
			Resource:  metav1.GroupVersionResource{Group: "laiki.io", Version: "v1alpha1", Resource: "shinyproxyapps"},
			Name:      name,
			Namespace: namespace,
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: "bench-user", Groups: []string{"team-000"}},
			Object:    runtime.RawExtension{Raw: raw},
			DryRun:    &dryRun,
		},
	})
}

// mutated are the reviews the validating webhook gets after the mutating
// one answered each of reviews: the app as its patch left it, as the API
// server sends it.
func mutated(c *http.Client, url string, reviews [][]byte) ([][]byte, error) {
	var out [][]byte
	for i, body := range reviews {
		resp, err := post(c, url+webhook.MutatePath, body)
		if err != nil {
			return nil, err
		}
		if !resp.Allowed {
			return nil, fmt.Errorf("the webhook did not allow a clean app (%d): %+v", i, resp.Result)
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := json.Unmarshal(review.Request.Object.Raw, &obj); err != nil {
			return nil, err
		}
		var ops []struct {
			Op, Path string
			Value    any
		}
		if err := json.Unmarshal(resp.Patch, &ops); err != nil {
			return nil, err
		}
		for _, op := range ops {
			if err := applyOp(obj, op.Op, op.Path, op.Value); err != nil {
				return nil, fmt.Errorf("app %d: patch %s %s: %w", i, op.Op, op.Path, err)
			}
		}
		b, err := reviewOf(obj, review.Request.Name, review.Request.Namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// applyOp applies one add, replace or remove of a JSON patch to a tree of
// maps (Laiki's patches of the generated apps touch maps only).
func applyOp(root map[string]any, op, path string, value any) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	m := root
	for i, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		if i < len(parts)-1 {
			next, ok := m[p].(map[string]any)
			if !ok {
				return fmt.Errorf("no map at %s", p)
			}
			m = next
			continue
		}
		switch op {
		case "add", "replace":
			m[p] = value
		case "remove":
			delete(m, p)
		default:
			return fmt.Errorf("op %s is not one the benchmark applies", op)
		}
	}
	return nil
}

// post sends an AdmissionReview and reads the answer.
func post(c *http.Client, url string, body []byte) (*admissionv1.AdmissionResponse, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
		return nil, err
	}
	if review.Response == nil {
		return nil, fmt.Errorf("%s: no response", url)
	}
	return review.Response, nil
}

// admissions makes the requests of admissions as the API server does:
// the mutating webhook with the app, the validating webhook with the app as
// mutated, for a new app each time (distinct), each twice with the first as
// a server-side dry run (dry-run), or the same apps again and again
// (repeat). Vegeta's workers call next concurrently.
type admissions struct {
	url              string
	mutate, validate [][]byte
	mix              string
	n                atomic.Uint64
}

var jsonHeader = http.Header{"Content-Type": []string{"application/json"}}

func (a *admissions) next(t *vegeta.Target) error {
	i := a.n.Add(1) - 1
	perAdmission := uint64(2)
	if a.mix == "dry-run" {
		perAdmission = 4
	}
	k, step := i/perAdmission, i%perAdmission
	app := k % uint64(len(a.mutate))
	body, path := a.mutate[app], webhook.MutatePath
	if step%2 == 1 {
		body, path = a.validate[app], webhook.ValidatePath
	}
	variant := k
	if a.mix == "repeat" {
		variant = 0
	}
	body = bytes.Replace(body, markApp, strconv.AppendUint(nil, variant, 10), 1)
	body = bytes.Replace(body, markUID, strconv.AppendUint(nil, i, 10), 1)
	if a.mix == "dry-run" && step < 2 {
		body = bytes.Replace(body, []byte(`"dryRun":false`), []byte(`"dryRun":true`), 1)
	}
	*t = vegeta.Target{Method: http.MethodPost, URL: a.url + path, Body: body, Header: jsonHeader}
	return nil
}

// server is a process under load.
type server struct {
	cmd *exec.Cmd
	url string
}

// stop ends the server and gives its peak RSS, read just before (see
// vmHWM: the rusage of a child would carry the bench's own peak).
func (s *server) stop() (rss int64) {
	rss = vmHWM(s.cmd.Process.Pid)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	return rss
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
	// cpu is the server's CPU time per request (user and system): what
	// the noise of a shared machine changes least.
	cpu time.Duration
}

// attack sends targets at a constant rate for d and measures; pid is the
// server's process.
func attack(tr vegeta.Targeter, pid int, http2 bool, rate int, d time.Duration) point {
	a := vegeta.NewAttacker(vegeta.TLSConfig(&tls.Config{InsecureSkipVerify: true}), vegeta.KeepAlive(true), vegeta.HTTP2(http2),
		vegeta.Workers(64), vegeta.MaxWorkers(4096), vegeta.Timeout(5*time.Second))
	var m vegeta.Metrics
	before := cpuTime(pid)
	for res := range a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, d, "bench") {
		m.Add(res)
	}
	m.Close()
	p := point{rate: rate, p50: m.Latencies.P50, p99: m.Latencies.P99, success: m.Success}
	if m.Requests > 0 {
		p.cpu = (cpuTime(pid) - before) / time.Duration(m.Requests)
	}
	return p
}

// cpuTime is the CPU time a process has used so far (Linux: utime and
// stime of /proc/PID/stat, in clock ticks of 1/100 s, USER_HZ everywhere
// Go runs on Linux); 0 where it cannot be read.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces), from state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// sweep raises the rate until the server falls over (p99 over 100 ms or
// a request failing), after a warm-up.
func sweep(tr vegeta.Targeter, pid int, http2 bool, rates []int, d time.Duration) []point {
	attack(tr, pid, http2, 200, 2*time.Second)
	var out []point
	for _, r := range rates {
		p := attack(tr, pid, http2, r, d)
		out = append(out, p)
		if p.success < 0.999 || p.p99 > 100*time.Millisecond {
			break
		}
	}
	return out
}

func benchAdmission(t *tools, rates []int, d time.Duration) error {
	switch *admissionMix {
	case "distinct", "dry-run", "repeat":
	default:
		return fmt.Errorf("-admission-mix %s: distinct, dry-run or repeat", *admissionMix)
	}
	dir, err := os.MkdirTemp("", "laiki-bench-admission")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := admissionPlatform(dir)
	if err != nil {
		return err
	}
	reviews, inputs, err := reviewBodies(p, 1000)
	if err != nil {
		return err
	}
	laikiPoints, laikiRSS, err := sweepLaiki(p, reviews, rates, d)
	if err != nil {
		return err
	}
	var opaPoints []point
	var opaRSS int64
	if *admissionOPA {
		if opaPoints, opaRSS, err = sweepOPA(t, dir, p, inputs, rates, d); err != nil {
			return err
		}
	}
	printAdmission(t, d, laikiPoints, opaPoints, laikiRSS, opaRSS)
	return nil
}

// admissionPlatform is the check benchmark's platform with one team source
// that the reviews' user acts as.
func admissionPlatform(dir string) (*platform, error) {
	p, err := generate(dir, 0, 1, 10)
	if err != nil {
		return nil, err
	}
	text, err := os.ReadFile(p.Config)
	if err != nil {
		return nil, err
	}
	err = os.WriteFile(p.Config, []byte(strings.Replace(string(text), "    allow:\n", "    subjects: {users: [bench-user]}\n    allow:\n", 1)), 0o644)
	return p, err
}

// sweepLaiki serves Laiki's webhook and holds each rate against it: each
// admission the mutating review, then the validating one with the app as
// the mutating webhook's patches left it, as the API server sends them.
func sweepLaiki(p *platform, reviews [][]byte, rates []int, d time.Duration) ([]point, int64, error) {
	laiki, err := startLaiki(p.Config)
	if err != nil {
		return nil, 0, err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	validate, err := mutated(c, laiki.url, reviews)
	if err == nil {
		err = checkAnswer(c, laiki.url+webhook.ValidatePath, bytes.Replace(validate[0], markApp, []byte("0"), 1))
	}
	if err != nil {
		laiki.stop()
		return nil, 0, err
	}
	lt := &admissions{url: laiki.url, mutate: reviews, validate: validate, mix: *admissionMix}
	points := sweep(lt.next, laiki.cmd.Process.Pid, !*admissionHTTP1, rates, d)
	return points, laiki.stop(), nil
}

// sweepOPA holds each rate against opa run --server with the same rules.
func sweepOPA(t *tools, dir string, p *platform, inputs [][]byte, rates []int, d time.Duration) ([]point, int64, error) {
	baseline := filepath.Join(dir, "baseline.rego")
	if err := copyFile(filepath.Join("..", "policies", "governance", "baseline.rego"), baseline); err != nil {
		return nil, 0, err
	}
	opa, err := startOPA(t.opa, p.Policy, baseline)
	if err != nil {
		return nil, 0, err
	}
	var ot []vegeta.Target
	for _, b := range inputs {
		ot = append(ot, vegeta.Target{Method: "POST", URL: opa.url + "/v1/data/laiki/governance", Body: b, Header: jsonHeader})
	}
	points := sweep(vegeta.NewStaticTargeter(ot...), opa.cmd.Process.Pid, false, rates, d)
	return points, opa.stop(), nil
}

// printAdmission writes the table of both sweeps and the goals.
func printAdmission(t *tools, d time.Duration, laikiPoints, opaPoints []point, laikiRSS, opaRSS int64) {
	proto := "HTTP/2"
	if *admissionHTTP1 {
		proto = "HTTP/1.1"
	}
	fmt.Printf("\nAdmission: apps of 1,000 generated ones at constant rates for %s each (vegeta, loopback, 2 cores shared with the load)\n", d)
	fmt.Printf("  Laiki: controller-runtime's webhook server, AdmissionReviews over TLS (%s, kept alive), each admission the mutating webhook's\n", proto)
	fmt.Printf("    request (pre-processors, schema) and the validating one's with the mutated app (the same, then governance); traffic: %s\n", *admissionMix)
	fmt.Printf("  OPA %s: opa run --server over HTTP, POST /v1/data/laiki/governance (the same ten rules and the baseline)\n", t.opaVersion)
	fmt.Printf("  rate/s: requests (two per admission); cpu: the server's CPU time per request\n")
	fmt.Printf("  %8s | %10s %10s %8s %8s | %10s %10s %8s %8s\n", "rate/s", "laiki p50", "p99", "ok", "cpu", "opa p50", "p99", "ok", "cpu")
	for i := 0; i < len(laikiPoints) || i < len(opaPoints); i++ {
		row := func(ps []point) string {
			if i >= len(ps) {
				return fmt.Sprintf("%10s %10s %8s %8s", "-", "-", "-", "-")
			}
			return fmt.Sprintf("%10s %10s %7.1f%% %8s", ps[i].p50.Round(10*time.Microsecond), ps[i].p99.Round(10*time.Microsecond), 100*ps[i].success,
				ps[i].cpu.Round(10*time.Microsecond))
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
	// Each goal is printed whatever the sweep reached: a rate it stopped
	// before (a lower one already over 100 ms) is missed, and says so.
	p99At := func(ps []point, rate int) (string, *point) {
		p := at(ps, rate)
		switch {
		case p != nil:
			return okP99(p), p
		case len(ps) == 0:
			return "not measured", nil
		}
		return fmt.Sprintf("over at %d/s", ps[len(ps)-1].rate), nil
	}
	ratio := func(l, o *point, bound time.Duration) float64 {
		switch {
		case l == nil:
			return 0
		case o != nil:
			return l.p99.Seconds() / o.p99.Seconds()
		}
		return l.p99.Seconds() / bound.Seconds()
	}
	ok := func(p *point, bound time.Duration) bool { return p != nil && p.success >= 0.999 && p.p99 < bound }
	lt, l := p99At(laikiPoints, 2000)
	ot, o := p99At(opaPoints, 2000)
	goal("admission: p99 at 2,000/s below opa run --server's (laiki/opa)", lt, "opa "+ot, ratio(l, o, 0),
		l != nil && o != nil && ok(l, o.p99))
	lt, l = p99At(laikiPoints, 4000)
	ot, _ = p99At(opaPoints, 4000)
	goal("admission: p99 under 10 ms at 4,000/s (laiki/10 ms)", lt, "opa "+ot, ratio(l, nil, 10*time.Millisecond), ok(l, 10*time.Millisecond))
}

// okP99 is a point's p99, with its success rate when requests failed (a
// p99 of the answered ones hides a server that gave up).
func okP99(p *point) string {
	s := p.p99.Round(10 * time.Microsecond).String()
	if p.success < 0.999 {
		s += fmt.Sprintf(" (%.0f%% ok)", 100*p.success)
	}
	return s
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
func checkAnswer(c *http.Client, url string, body []byte) error {
	resp, err := post(c, url, body)
	if err != nil {
		return err
	}
	if !resp.Allowed {
		return fmt.Errorf("the webhook did not allow a clean app (%s): %+v", url, resp.Result)
	}
	return nil
}

// writeCert writes an ECDSA certificate and its key where
// controller-runtime's webhook server reads them (tls.crt, tls.key).
func writeCert(dir string) error {
	cert, err := ecdsaCert()
	if err != nil {
		return err
	}
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}), 0o600)
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
