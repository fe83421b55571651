package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// measured is one whole-process run.
type measured struct {
	wall time.Duration
	cpu  time.Duration
	rss  int64 // peak resident set, bytes
	code int
}

var (
	checkDir = flag.String("check-dir", "", "generate the check's platform in this directory (empty, or one the bench made) and keep it, "+
		"to profile laiki check --config DIR/laiki.yaml on the same files (default: a temporary directory)")
	checkRuns = flag.Int("check-runs", 3, "measured runs of each tool in the check (the median is shown), after one that warms the page cache")
)

func runProcess(dir string, name string, args ...string) (measured, error) {
	return runProcessTo(nil, dir, name, args...)
}

// runProcessTo is runProcess with the standard output kept in out (nil:
// thrown away).
func runProcessTo(out io.Writer, dir string, name string, args ...string) (measured, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	cmd.Stdout = devnull
	if out != nil {
		cmd.Stdout = out
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	hwm := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	m := measured{wall: time.Since(start), rss: hwm()}
	if cmd.ProcessState == nil {
		return m, err
	}
	m.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.code > 1 {
		return m, fmt.Errorf("%s exited %d: %s", filepath.Base(name), m.code, stderr.String())
	}
	return m, nil
}

// Peak RSS is read from /proc/PID/status (VmHWM, the high-water mark of
// the process's own memory), not from getrusage: Linux carries a
// process's ru_maxrss across execve from the process that started it, so
// a child of the bench reports at least the bench's own peak (a child of a
// process of 300 MB that runs /bin/true reports 302 MB). The bench's peak
// grows with the admission load it makes, which made OPA's server and the
// reconcile runs after it look larger than they were.

// vmHWM is VmHWM of a process in bytes (0 when it cannot be read).
func vmHWM(pid int) int64 {
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// watchPeakRSS reads a running process's VmHWM every 5 ms (it only
// grows); the returned function, called once the process has ended, gives
// the last value read.
func watchPeakRSS(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			if v := vmHWM(pid); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		return peak.Load()
	}
}

// limitedBuffer keeps the first 4 KiB written: enough for an error.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b = append(l.b, p[:room]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

func median(ms []measured) measured {
	sort.Slice(ms, func(i, j int) bool { return ms[i].wall < ms[j].wall })
	return ms[len(ms)/2]
}

// benchCheck: laiki check against conftest test on the same files and rules.
func benchCheck(t *tools, apps int) error {
	dir := *checkDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "laiki-bench-check")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := keptDir(dir); err != nil {
		return err
	}
	// Ten targets, or more for a large platform: a ShinyProxy resource of
	// more than about 2,000 apps is more than the API server stores, which
	// Laiki refuses (rightly) and the verdict check would count as errors.
	p, err := generate(dir, apps, 100, max(10, (apps+999)/1000))
	if err != nil {
		return err
	}
	laikiArgs := []string{"check", "--config", p.Config, "-o", "json"}
	conftestArgs := []string{"test", "--no-color", "-o", "json", "--namespace", "laiki.governance.bench", "--policy", filepath.Dir(p.Policy)}
	for _, d := range p.AppDirs {
		conftestArgs = append(conftestArgs, filepath.Join(d, "apps"))
	}
	var laikiRuns, conftestRuns []measured
	runs := max(*checkRuns, 1)
	for i := 0; i < runs+1; i++ { // the first of each warms the page cache
		// The first run's reports are read: a faster check that no longer
		// gives the verdict is no faster.
		var laikiOut, conftestOut io.Writer
		var laikiReport, conftestReport bytes.Buffer
		if i == 0 {
			laikiOut, conftestOut = &laikiReport, &conftestReport
		}
		l, err := runProcessTo(laikiOut, dir, t.laiki, laikiArgs...)
		if err != nil {
			return err
		}
		c, err := runProcessTo(conftestOut, dir, t.conftest, conftestArgs...)
		if err != nil {
			return err
		}
		if i == 0 {
			if err := p.verdicts(laikiReport.Bytes(), conftestReport.Bytes()); err != nil {
				return err
			}
		}
		if i > 0 {
			laikiRuns, conftestRuns = append(laikiRuns, l), append(conftestRuns, c)
		}
	}
	l, c := median(laikiRuns), median(conftestRuns)
	fmt.Printf("\nPull-request check: %d app files in %d directories, 10 rules (median of %d whole-process runs)\n", apps, len(p.AppDirs), runs)
	fmt.Printf("  %-22s %10s %10s %10s\n", "", "wall", "cpu", "peak RSS")
	fmt.Printf("  %-22s %10s %10s %9.0fM\n", "laiki check", l.wall.Round(time.Millisecond), l.cpu.Round(time.Millisecond), float64(l.rss)/(1<<20))
	fmt.Printf("  %-22s %10s %10s %9.0fM\n", "conftest "+t.conftestVersion, c.wall.Round(time.Millisecond), c.cpu.Round(time.Millisecond), float64(c.rss)/(1<<20))
	speed, memory := c.wall.Seconds()/l.wall.Seconds(), float64(l.rss)/float64(c.rss)
	fmt.Printf("  %-22s %9.1fx %9.1fx %9.2fx\n", "conftest / laiki", speed, c.cpu.Seconds()/l.cpu.Seconds(), memory)
	// The ratios as the goals say them: conftest's time over Laiki's (10 or
	// more), Laiki's memory over conftest's (1 or less).
	goal("check: >= 10x faster than conftest (conftest/laiki)", l.wall.Round(time.Millisecond).String(), "conftest "+c.wall.Round(time.Millisecond).String(), speed, speed >= 10)
	goal("check: peak RSS at most conftest's (laiki/conftest)", fmt.Sprintf("%.0f MB", float64(l.rss)/(1<<20)), fmt.Sprintf("conftest %.0f MB", float64(c.rss)/(1<<20)), memory, memory <= 1)
	return nil
}

// verdicts checks both tools' JSON reports against what was generated,
// file by file: Laiki read every document, rejects exactly the apps from
// another registry and accepts the others (those without limits or
// privileged get the defaults'); conftest rejects exactly those and the
// apps the defaults would have fixed. The same rules, so the same apps
// rejected but for the pre-processor's work, which the summary line says.
func (p *platform) verdicts(laikiReport, conftestReport []byte) error {
	var r struct {
		Summary struct {
			Documents int `json:"documents"`
			Accepted  int `json:"accepted"`
			Rejected  int `json:"rejected"`
			Errors    int `json:"errors"`
		} `json:"summary"`
		Resources []struct {
			File     string `json:"file"`
			Accepted bool   `json:"accepted"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(laikiReport, &r); err != nil {
		return fmt.Errorf("laiki check's report: %w", err)
	}
	s := r.Summary
	if s.Documents != p.Apps+3*p.Targets || s.Rejected != p.Rejected || s.Accepted != p.Apps-p.Rejected || s.Errors != 0 {
		return fmt.Errorf("laiki check's verdict is not the generated platform's: %+v (want %d documents, %d apps rejected, %d accepted, no errors)",
			s, p.Apps+3*p.Targets, p.Rejected, p.Apps-p.Rejected)
	}
	// Each tool names a file as it found it: relative to the platform.
	rel := func(file string) string {
		if filepath.IsAbs(file) {
			if r, err := filepath.Rel(p.Dir, file); err == nil {
				file = r
			}
		}
		return filepath.ToSlash(file)
	}
	laiki := map[string]bool{}
	for _, res := range r.Resources {
		if !res.Accepted {
			laiki[rel(res.File)] = true
		}
	}
	var cf []struct {
		Filename string            `json:"filename"`
		Failures []json.RawMessage `json:"failures"`
	}
	if err := json.Unmarshal(conftestReport, &cf); err != nil {
		return fmt.Errorf("conftest's report: %w", err)
	}
	conftest := map[string]bool{}
	for _, f := range cf {
		if len(f.Failures) > 0 {
			conftest[rel(f.Filename)] = true
		}
	}
	if err := sameFiles("laiki check", laiki, p.LaikiRejects); err != nil {
		return err
	}
	if err := sameFiles("conftest", conftest, p.ConftestRejects); err != nil {
		return err
	}
	fixed := 0
	for f := range conftest {
		if !laiki[f] {
			fixed++
		}
	}
	fmt.Printf("\nVerdicts, file by file: both reject the same %d apps from another registry; conftest also rejects the %d that Laiki's defaults pre-processor fixes (limits set, privileged turned off)\n",
		len(laiki), fixed)
	return nil
}

// sameFiles says which files a tool rejected that it should not have, or
// accepted that it should have rejected.
func sameFiles(tool string, got, want map[string]bool) error {
	var extra, missing []string
	for f := range got {
		if !want[f] {
			extra = append(extra, f)
		}
	}
	for f := range want {
		if !got[f] {
			missing = append(missing, f)
		}
	}
	if len(extra)+len(missing) == 0 {
		return nil
	}
	sort.Strings(extra)
	sort.Strings(missing)
	first := func(fs []string) []string { return fs[:min(len(fs), 5)] }
	return fmt.Errorf("%s's verdicts are not the generated platform's: %d rejected that should pass (first %q), %d passed that should be rejected (first %q)",
		tool, len(extra), first(extra), len(missing), first(missing))
}

// checkMarker marks a directory the check generated a platform in.
const checkMarker = ".laiki-bench-check"

// keptDir makes dir ready for a platform: an empty or new directory, or
// one the bench made before, emptied (a platform of fewer apps must not
// find the files of a larger one). Any other directory is refused.
func keptDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, checkMarker)); err != nil {
			return fmt.Errorf("-check-dir %s: not empty, and not a platform the bench generated (no %s): choose another", dir, checkMarker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, checkMarker), nil, 0o644)
}
