package main

import (
	"fmt"
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

func runProcess(dir string, name string, args ...string) (measured, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	cmd.Stdout = devnull
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
	dir, err := os.MkdirTemp("", "laiki-bench-check")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
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
	const runs = 3
	for i := 0; i < runs+1; i++ { // the first of each warms the page cache
		l, err := runProcess(dir, t.laiki, laikiArgs...)
		if err != nil {
			return err
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
	fmt.Printf("  %-22s %9.1fx %9.1fx %9.2fx   (goal: >= 10x faster, memory <= 1x)\n", "conftest / laiki", c.wall.Seconds()/l.wall.Seconds(), c.cpu.Seconds()/l.cpu.Seconds(), float64(l.rss)/float64(c.rss))
	return nil
}
