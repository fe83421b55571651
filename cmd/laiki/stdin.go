package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/laiki-platform/laiki/engine/source"
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

// stdinName is what the sources, findings and explain's origins call the
// document read from standard input.
const stdinName = "stdin"

// readStdin is stdinPaths for a command that loads its paths through in:
// the source made from the temporary file is then named stdin, and its
// findings say stdin:LINE:COL, not the temporary path.
func (in *inputs) readStdin(paths []string) (resolved []string, cleanup func(), err error) {
	resolved, cleanup, err = stdinPaths(paths)
	if err == nil {
		if at := slices.Index(paths, "-"); at >= 0 {
			in.stdin = resolved[at]
		}
	}
	return resolved, cleanup, err
}

// relabelStdin names the source of standard input's temporary file.
func (in *inputs) relabelStdin(cfg *source.Config) {
	if in.stdin == "" {
		return
	}
	for _, s := range cfg.Sources {
		if s.Path == in.stdin {
			s.Name, s.Shown = stdinName, stdinName
		}
	}
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
