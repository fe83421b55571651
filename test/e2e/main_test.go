// Package e2e runs the laiki binary as a user would, against real Git
// repositories that the tests make and serve on loopback only (file://, git
// daemon, git http-backend behind basic auth).
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laiki-platform/laiki/test/kubetest"
)

var (
	laiki string // the built binary
	repo  string // this repository
)

// TestMain builds the binary once. Git, its daemon and its http-backend are
// required: without them the package fails, it does not skip.
func TestMain(m *testing.M) {
	repo = kubetest.Repo()
	if err := checkGit(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the end-to-end tests need git with its daemon and http-backend (make test-deps installs them:", "scripts/install-test-deps.sh):", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "laiki-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	if laiki, err = kubetest.Laiki(dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func checkGit() error {
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("git is not installed: %w", err)
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return fmt.Errorf("git --exec-path: %w", err)
	}
	for _, tool := range []string{"git-daemon", "git-http-backend"} {
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(out)), tool)); err != nil {
			return fmt.Errorf("%s is missing: %w", tool, err)
		}
	}
	return nil
}

// result of one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// laikiRun runs the binary in dir, with the environment of the test minus
// anything Git or a token might read from it, plus env. A run that panics or
// hangs fails the test.
func laikiRun(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return laikiStdin(t, dir, env, "", args...)
}

// laikiStdin is laikiRun with stdin as the binary's standard input.
func laikiStdin(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, laiki, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "TEAM_TOKEN") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("laiki %s did not finish in 60s\n%s", strings.Join(args, " "), r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	// A Go panic exits with code 2, like "Laiki cannot run": tell them apart.
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("laiki %s panicked:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// check runs `laiki check --config laiki.yaml -o FORMAT --cache-dir CACHE` in dir.
func check(t *testing.T, dir, cache, format string, env ...string) result {
	t.Helper()
	return laikiRun(t, dir, env, "check", "--config", "laiki.yaml", "-o", format, "--cache-dir", cache)
}

// checkJSON runs check with -o json and parses the report; it fails the test
// unless the exit code is want.
func checkJSON(t *testing.T, dir, cache string, want int, env ...string) report {
	t.Helper()
	r := check(t, dir, cache, "json", env...)
	rep := parseReport(t, r)
	if r.code != want {
		t.Errorf("exit %d, want %d\nfindings: %s\nstderr: %s", r.code, want, rep.describe(), r.stderr)
	}
	return rep
}
