package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// withStdin makes text the process's standard input for the test.
func withStdin(t *testing.T, text string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = in
	t.Cleanup(func() { os.Stdin = old; in.Close() })
}

func TestStdinPaths(t *testing.T) {
	withStdin(t, anApp)
	got, cleanup, err := stdinPaths([]string{"platform", "-", "apps"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "platform" || got[2] != "apps" || filepath.Base(got[1]) != "stdin.yaml" {
		t.Fatalf("resolved %v", got)
	}
	if b, err := os.ReadFile(got[1]); err != nil || string(b) != anApp {
		t.Fatalf("%s holds %q (%v)", got[1], b, err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(got[1])); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", filepath.Dir(got[1]), err)
	}
}

// Without "-" nothing is read and nothing is made: standard input stays
// for whoever wants it.
func TestStdinPathsWithoutDash(t *testing.T) {
	withStdin(t, "kept")
	paths := []string{"a", "b"}
	got, cleanup, err := stdinPaths(paths)
	if err != nil || !slices.Equal(got, paths) {
		t.Fatalf("%v %v", got, err)
	}
	cleanup()
	if b, _ := os.ReadFile(os.Stdin.Name()); string(b) != "kept" {
		t.Errorf("stdin changed: %q", b)
	}
	if _, cleanup, err := stdinPaths(nil); err != nil {
		t.Error(err)
	} else {
		cleanup()
	}
}

// Standard input can be read once.
func TestStdinPathsTwice(t *testing.T) {
	withStdin(t, anApp)
	_, cleanup, err := stdinPaths([]string{"-", "apps", "-"})
	cleanup()
	if err == nil || !strings.Contains(err.Error(), `"-"`) || !strings.Contains(err.Error(), "once") {
		t.Errorf("want an error about - given twice, got %v", err)
	}
}
