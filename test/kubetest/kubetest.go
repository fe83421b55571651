// Package kubetest finds the real kube-apiserver and etcd that envtest runs
// for the tests that need a cluster.
package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Repo is the root of this repository.
func Repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Assets finds the kube-apiserver and etcd that scripts/envtest-binaries.sh
// builds ($KUBEBUILDER_ASSETS when set). Tests that need them fail when
// they are missing: CI must run them.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	out, err := exec.Command(filepath.Join(Repo(), "scripts", "envtest-binaries.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("scripts/envtest-binaries.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// Main runs a test package whose setup (run) starts envtest, with
// controller-runtime logging errors only. A setup that fails makes the
// package fail, never skip.
func Main(m *testing.M, suite string, run func(*testing.M) (int, error)) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the %s suite could not start: %v\n", suite, err)
		os.Exit(1)
	}
	os.Exit(code)
}

// Start starts env on the kube-apiserver and etcd that Assets finds, and
// says how long that took.
func Start(env *envtest.Environment) (*rest.Config, error) {
	dir, err := Assets()
	if err != nil {
		return nil, err
	}
	env.BinaryAssetsDirectory = dir
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("envtest: %w", err)
	}
	fmt.Fprintf(os.Stderr, "envtest started in %s\n", time.Since(start).Round(time.Millisecond))
	return cfg, nil
}

// Laiki builds the laiki binary into dir, for tests that run it as users
// and the chart do, and returns its path.
func Laiki(dir string) (string, error) {
	bin := filepath.Join(dir, "laiki")
	build := exec.Command("go", "build", "-o", bin, "github.com/laiki-platform/laiki/cmd/laiki")
	build.Dir = Repo()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building laiki: %w", err)
	}
	return bin, nil
}
