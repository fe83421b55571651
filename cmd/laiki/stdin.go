package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// stdinFile is the name the document read from standard input has, in
// findings as in explain's origins.
const stdinFile = "stdin.yaml"

// stdinPaths lets "-" stand for standard input among the paths a command
// reads, as it does for convert: the sources read files, so stdin is written
// to stdin.yaml in a temporary directory and "-" replaced by that file's
// path. cleanup removes the directory; it is never nil, so that it can be
// deferred before err is looked at. Without "-", stdin is not read.
func stdinPaths(paths []string) (resolved []string, cleanup func(), err error) {
	cleanup = func() {}
	at := slices.Index(paths, "-")
	if at < 0 {
		return paths, cleanup, nil
	}
	if slices.Contains(paths[at+1:], "-") {
		return nil, cleanup, errors.New(`"-" is given twice: standard input can be read once`)
	}
	dir, err := os.MkdirTemp("", "laiki-stdin-")
	if err != nil {
		return nil, cleanup, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	file := filepath.Join(dir, stdinFile)
	if err := copyStdin(file); err != nil {
		return nil, cleanup, err
	}
	resolved = slices.Clone(paths)
	resolved[at] = file
	return resolved, cleanup, nil
}

func copyStdin(file string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, os.Stdin); err != nil {
		f.Close()
		return fmt.Errorf("reading standard input: %w", err)
	}
	return f.Close()
}
