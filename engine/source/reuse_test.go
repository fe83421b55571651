package source_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/test/gittest"
)

// A Git source's files are taken from its last read only when nothing they
// depend on changed: the same commit, read the same way. A new commit, or
// the same commit read with other exclusions, a sub-directory or size
// limit, is read anew: what is in Git is what runs.
func TestGitReadReusedOnlyForTheSameCommitReadTheSameWay(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bare, work := gittest.Repo(t, root, "apps", map[string]string{
		"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 1\n", "notes/n.yaml": "n: 1\n",
	})
	config := func(extra string) *source.Config {
		t.Helper()
		cfg, err := source.ParseConfig("laiki.yaml", fmt.Appendf(nil, "sources:\n  - name: team\n    role: platform\n    git: {url: 'file://%s'%s}\n", filepath.ToSlash(bare), extra))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	opts := source.Options{CacheDir: filepath.Join(root, "cache")}
	var previous *source.Loaded
	opts.Previous = func(s *source.Source) *source.Loaded {
		if previous != nil && previous.Source.Name == s.Name {
			return previous
		}
		return nil
	}
	load := func(cfg *source.Config, o source.Options) *source.Loaded {
		t.Helper()
		l := source.Load(ctx, cfg, o)[0]
		if l.Failed {
			t.Fatalf("read failed: %v", l.Findings)
		}
		return l
	}
	files := func(l *source.Loaded) []string {
		var out []string
		for _, f := range l.Files {
			out = append(out, f.Path+"="+string(f.Data))
		}
		slices.Sort(out)
		return out
	}
	shares := func(a, b *source.Loaded) bool {
		for _, fa := range a.Files {
			for _, fb := range b.Files {
				if fa.Path == fb.Path && len(fa.Data) > 0 && &fa.Data[0] == &fb.Data[0] {
					return true
				}
			}
		}
		return false
	}

	first := load(config(""), opts)
	previous = first
	again := load(config(""), opts)
	if !slices.Equal(files(again), files(first)) || again.Revision != first.Revision {
		t.Fatalf("the same commit read again gave %v at %s, first %v at %s", files(again), again.Revision, files(first), first.Revision)
	}
	if !shares(again, first) {
		t.Error("the same commit, read the same way, was read from its tree again instead of taken from the last read")
	}

	// The same commit read another way: excluded files, a sub-directory.
	for _, extra := range []string{"", ", dir: apps"} {
		previous = first
		cfg := config(extra)
		cfg.Sources[0].Exclude = []string{"notes/**"}
		other := load(cfg, opts)
		if shares(other, first) || slices.ContainsFunc(other.Files, func(f source.File) bool { return f.Path == "notes/n.yaml" }) {
			t.Errorf("git%s, notes/** excluded: the last read's files were reused: %v", extra, files(other))
		}
	}
	previous = first
	small := opts
	small.MaxFileBytes = 3
	if l := source.Load(ctx, config(""), small)[0]; len(l.Files) != 0 || shares(l, first) {
		t.Errorf("a smaller size limit must read anew and refuse every file: %v", files(l))
	}

	// A new commit: the changed file, without the removed one.
	gittest.Commit(t, work, map[string]string{"apps/a.yaml": "a: 2\n"}, "change", "apps/b.yaml")
	previous = first
	changed := load(config(""), opts)
	if want := []string{"apps/a.yaml=a: 2\n", "notes/n.yaml=n: 1\n"}; !slices.Equal(files(changed), want) {
		t.Errorf("after a new commit: %q, want %q", files(changed), want)
	}
	if changed.Revision == first.Revision {
		t.Error("the new commit's revision was not read")
	}
}
