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
