package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/reconcile"
)

// reconcileFigures is what one reconcile benchmark measured (a process of
// its own, so that its peak memory is its own).
type reconcileFigures struct {
	Apps, Repos            int
	Cold, ColdFetch        time.Duration
	Change, ChangeFetch    time.Duration
	Noop                   time.Duration
	NoopWrites, NoopObject int
	HeapMB, RSSMB          float64
}

// countingTransport counts requests that write (leases aside).
type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// A server-side dry run (how Laiki asks what an apply would change)
	// writes nothing.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Query().Get("dryRun") == "" {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

func git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench",
		"GIT_COMMITTER_EMAIL=bench@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// reconcileChild runs the reconcile benchmark for apps apps and prints its
// figures as JSON.
func reconcileChild(root string, apps int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "laiki-bench-reconcile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const repos = 100
	targets := (apps + 499) / 500 // at most 500 apps in one ShinyProxy resource
	p, err := generate(dir, apps, repos, targets)
	if err != nil {
		return err
	}
	cfg, err := gitPlatform(p)
	if err != nil {
		return err
	}
	env, c, writes, err := countedCluster(root)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	r := &reconcile.Reconciler{
		Config:  cfg,
		Options: pipeline.Options{Load: source.Options{CacheDir: filepath.Join(dir, "cache")}},
		Applier: &reconcile.Applier{Client: c, Reader: c, Instance: "bench"},
		Cluster: c,
	}
	f := reconcileFigures{Apps: apps, Repos: repos}
	if file := os.Getenv("LAIKI_BENCH_PEAKHEAPPROFILE"); file != "" {
		stop := peakHeapProfile(file)
		defer stop()
	}
	if err := measureReconciles(ctx, r, p, writes, &f); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(f)
}

// peakHeapProfile writes a heap profile to file each time the heap in use
// reaches a new high (polled every 50 ms), and says in which phase, on
// standard error: what the peak RSS is made of. The profile's figures are
// those of the last collection before that moment.
func peakHeapProfile(file string) (stop func()) {
	done := make(chan struct{})
	go func() {
		var high uint64
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= high+high/20 { // 5% more than the last written
				continue
			}
			high = ms.HeapInuse
			if out, err := os.Create(file); err == nil {
				_ = pprof.Lookup("heap").WriteTo(out, 0)
				out.Close()
				fmt.Fprintf(os.Stderr, "peak heap %.0f MB at %s\n", float64(high)/(1<<20), time.Since(start).Round(10*time.Millisecond))
			}
		}
	}()
	return func() { close(done) }
}

// gitPlatform makes every team directory a Git repository, read over
// file://, and loads the sources file that names them.
func gitPlatform(p *platform) (*source.Config, error) {
	cfgText, err := os.ReadFile(p.Config)
	if err != nil {
		return nil, err
	}
	text := string(cfgText)
	for i, d := range p.AppDirs {
		for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "apps"}} {
			if err := git(d, args...); err != nil {
				return nil, err
			}
		}
		text = strings.Replace(text, fmt.Sprintf("    path: repo-%03d\n", i), fmt.Sprintf("    git: {url: \"file://%s\", ref: main}\n", d), 1)
	}
	if err := os.WriteFile(p.Config, []byte(text), 0o644); err != nil {
		return nil, err
	}
	return source.LoadConfig(p.Config)
}

// countedCluster starts a kube-apiserver with Laiki's CRDs and the
// ShinyProxy operator's, and gives a client that counts its writes.
func countedCluster(root string) (*envtest.Environment, client.Client, *atomic.Int64, error) {
	assets, err := exec.Command(filepath.Join(root, "scripts", "envtest-binaries.sh")).Output()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scripts/envtest-binaries.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(assets)), "\n")
	env := &envtest.Environment{
		BinaryAssetsDirectory: lines[len(lines)-1],
		CRDDirectoryPaths: []string{filepath.Join(root, "charts", "laiki", "crds"),
			filepath.Join(root, "engine", "workflow", "crds", "shinyproxy.crd.yaml")},
		ErrorIfCRDPathMissing: true,
	}
	restCfg, err := env.Start()
	if err != nil {
		return nil, nil, nil, err
	}
	writes := &atomic.Int64{}
	counted := rest.CopyConfig(restCfg)
	counted.QPS, counted.Burst = 1000, 2000 // a client for one operator, not shared with others
	counted.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, writes} }
	c, err := client.New(counted, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		_ = env.Stop()
		return nil, nil, nil, err
	}
	return env, c, writes, nil
}

// measureReconciles runs a cold start, the run after one app changed in
// one repository, and a run with nothing changed, into f.
func measureReconciles(ctx context.Context, r *reconcile.Reconciler, p *platform, writes *atomic.Int64, f *reconcileFigures) error {
	var peakHeap uint64
	heap := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
	}
	run, err := r.Reconcile(ctx)
	if err != nil {
		return err
	}
	if errs := run.Outcome.Errors(); len(errs) > 0 {
		return fmt.Errorf("cold start: %d objects failed, e.g. %v", len(errs), errs[0])
	}
	f.Cold, f.ColdFetch = run.Duration, run.Fetch
	heap()

	if run, err = changeOneApp(ctx, r, p); err != nil {
		return err
	}
	f.Change, f.ChangeFetch = run.Duration, run.Fetch
	heap()
	if file := os.Getenv("LAIKI_BENCH_HEAPPROFILE"); file != "" {
		// What the reconciler keeps between two runs.
		out, err := os.Create(file)
		if err != nil {
			return err
		}
		runtime.GC()
		err = pprof.WriteHeapProfile(out)
		out.Close()
		if err != nil {
			return err
		}
	}

	writes.Store(0)
	if run, err = r.Reconcile(ctx); err != nil {
		return err
	}
	f.Noop, f.NoopWrites, f.NoopObject = run.Duration, int(writes.Load()), run.Outcome.Writes()
	heap()
	f.HeapMB, f.RSSMB = float64(peakHeap)/(1<<20), float64(vmHWM(os.Getpid()))/(1<<20) // not ru.Maxrss: see vmHWM
	return nil
}

// changeOneApp commits a change to one app and reconciles it (under a CPU
// profile when LAIKI_BENCH_CPUPROFILE names a file).
func changeOneApp(ctx context.Context, r *reconcile.Reconciler, p *platform) (*reconcile.Run, error) {
	changed := filepath.Join(p.AppDirs[1], "apps", "app-00001.yaml") // a clean app
	b, err := os.ReadFile(changed)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(changed, []byte(strings.Replace(string(b), "max-instances: 4", "max-instances: 5", 1)), 0o644); err != nil {
		return nil, err
	}
	if err := git(p.AppDirs[1], "commit", "-q", "-am", "one app changed"); err != nil {
		return nil, err
	}
	if file := os.Getenv("LAIKI_BENCH_CPUPROFILE"); file != "" {
		// For looking into the reconcile of one change.
		out, err := os.Create(file)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		_ = pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	run, err := r.Reconcile(ctx)
	if err != nil {
		return nil, err
	}
	if run.Outcome.Writes() == 0 {
		return nil, fmt.Errorf("the changed app was not applied")
	}
	return run, nil
}

func benchReconcile(sizes []int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var all []reconcileFigures
	for _, n := range sizes {
		cmd := exec.Command(self, "-reconcile-child", fmt.Sprint(n))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%d apps: %w", n, err)
		}
		var f reconcileFigures
		if err := json.Unmarshal(out, &f); err != nil {
			return fmt.Errorf("%d apps: %w: %s", n, err, out)
		}
		all = append(all, f)
	}
	fmt.Printf("\nReconcile: apps in 100 local Git repositories (file://), applied to a real kube-apiserver (envtest)\n")
	fmt.Printf("  %7s | %10s %10s | %10s %10s %12s | %10s %7s | %9s %9s\n", "apps", "cold", "(fetch)", "change", "(fetch)", "after fetch", "no-op", "writes", "peak heap", "peak RSS")
	for _, f := range all {
		fmt.Printf("  %7d | %10s %10s | %10s %10s %12s | %10s %7d | %8.0fM %8.0fM\n", f.Apps,
			f.Cold.Round(time.Millisecond), f.ColdFetch.Round(time.Millisecond), f.Change.Round(time.Millisecond), f.ChangeFetch.Round(time.Millisecond),
			(f.Change - f.ChangeFetch).Round(time.Millisecond), f.Noop.Round(time.Millisecond), f.NoopWrites, f.HeapMB, f.RSSMB)
	}
	for _, f := range all {
		if f.Apps != 10000 {
			continue
		}
		after := f.Change - f.ChangeFetch
		// No peer here: the bound is the goal's.
		goal("reconcile 10,000 apps: a change applied < 1 s after the fetch", after.Round(time.Millisecond).String(), "bound 1s", after.Seconds(), after < time.Second)
		goal("reconcile 10,000 apps: peak RSS < 300 MB", fmt.Sprintf("%.0f MB", f.RSSMB), "bound 300 MB", f.RSSMB/300, f.RSSMB < 300)
		goal("reconcile 10,000 apps: a no-op writes nothing", fmt.Sprintf("%d writes", f.NoopWrites), "bound 0 writes", 0, f.NoopWrites == 0)
	}
	return nil
}
