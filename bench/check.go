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
	err := cmd.Run()
	m := measured{wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return m, err
	}
	m.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.rss = ru.Maxrss * 1024
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.code > 1 {
		return m, fmt.Errorf("%s exited %d: %s", filepath.Base(name), m.code, stderr.String())
	}
	return m, nil
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
	p, err := generate(dir, apps, 100, 10)
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
		var out io.Writer // the first run's report is read
		var report bytes.Buffer
		if i == 0 {
			out = &report
		}
		l, err := runProcessTo(out, dir, t.laiki, laikiArgs...)
		if err != nil {
			return err
		}
		if i == 0 {
			// A faster check that no longer gives the verdict is no faster.
			if err := p.verdict(report.Bytes()); err != nil {
				return err
			}
		}
		c, err := runProcess(dir, t.conftest, conftestArgs...)
		if err != nil {
			return err
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
	goal("check: >= 10x faster than conftest", fmt.Sprintf("%.1fx", speed), speed >= 10)
	goal("check: peak RSS at most conftest's", fmt.Sprintf("%.2fx conftest's", memory), memory <= 1)
	return nil
}

// verdict checks laiki check's JSON report against what was generated:
// every document read, the apps from another registry rejected, the others
// accepted (those without limits get the defaults').
func (p *platform) verdict(report []byte) error {
	var r struct {
		Summary struct {
			Documents int `json:"documents"`
			Accepted  int `json:"accepted"`
			Rejected  int `json:"rejected"`
			Errors    int `json:"errors"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		return fmt.Errorf("laiki check's report: %w", err)
	}
	s := r.Summary
	if s.Documents != p.Apps+3*p.Targets || s.Rejected != p.Rejected || s.Accepted != p.Apps-p.Rejected || s.Errors != 0 {
		return fmt.Errorf("laiki check's verdict is not the generated platform's: %+v (want %d documents, %d apps rejected, %d accepted, no errors)",
			s, p.Apps+3*p.Targets, p.Rejected, p.Apps-p.Rejected)
	}
	return nil
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
