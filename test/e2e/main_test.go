// Package e2e runs the laiki binary as a user would, against real Git
// repositories that the tests make and serve on loopback (file://, git
// daemon, git http-backend).
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

var (
	laiki string // the built binary
	repo  string // this repository
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repo = filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := exec.LookPath("git"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: git is not installed (make test installs it: scripts/install-test-deps.sh)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "laiki-e2e")
	if err != nil {
		panic(err)
	}
	laiki = filepath.Join(dir, "laiki")
	build := exec.Command("go", "build", "-o", laiki, "./cmd/laiki")
	build.Dir = repo
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: building laiki:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// laikiRun runs the binary in dir with an environment of extra variables.
func laikiRun(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(laiki, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if bytes.Contains(errOut.Bytes(), []byte("panic")) || bytes.Contains(out.Bytes(), []byte("goroutine ")) {
		t.Fatalf("laiki panicked:\n%s", errOut.String())
	}
	return r
}
