// Package platformtest writes small platforms (a laiki.yaml and the files
// of its sources) into temporary folders and runs the engine on them, for
// the tests of the packages that read a run.
package platformtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/gittest"
)

// Tree writes files (path → text) under a new temporary folder and returns
// it.
func Tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Write(t, dir, files)
	return dir
}

// Run writes files, which hold a laiki.yaml, and runs the engine on that
// configuration.
func Run(t testing.TB, files map[string]string) *pipeline.Result {
	t.Helper()
	return RunConfig(t, filepath.Join(Tree(t, files), "laiki.yaml"))
}

// RunPaths writes files and runs the engine on their folder as one
// platform path (laiki check PATH).
func RunPaths(t testing.TB, files map[string]string) *pipeline.Result {
	t.Helper()
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: source.PathsConfig([]string{Tree(t, files)})})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunConfig runs the engine on a sources file.
func RunConfig(t testing.TB, file string) *pipeline.Result {
	t.Helper()
	cfg, err := source.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Origins gives each field of an explanation as "by from" (file and line,
// pre-processor, workflow), by field.
func Origins(e workflow.Explanation) map[string]string {
	by := map[string]string{}
	for _, o := range e.Fields {
		by[o.Field] = o.By + " " + o.From
	}
	return by
}
