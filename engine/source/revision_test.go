package source_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/laiki-platform/laiki/engine/source"
)

// gitRepo makes a Git repository in a new directory with the files in one
// commit, and returns the directory and the commit.
func gitRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := git.PlainInit(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir, gitCommit(t, dir, files)
}

// gitCommit writes files into the work tree (an empty text removes the
// file), commits everything, and returns the commit.
func gitCommit(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	writeFiles(t, dir, files)
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Laiki Test", Email: "test@example.com", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h, err := wt.Commit("change", &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if text == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// files lists what a loaded source holds, path: content.
func files(l *source.Loaded) []string {
	var out []string
	for _, f := range l.Files {
		out = append(out, f.Path+": "+string(f.Data))
	}
	slices.Sort(out)
	return out
}

func loadOpts(t *testing.T) source.Options { return source.Options{CacheDir: t.TempDir()} }

// The base's files, named as the checkout names them: a finding on the
// base is at the same file as on the head. Files Laiki does not read (not
// YAML, excluded, CI files) are not read at the revision either.
func TestAtRevisionReadsTheBase(t *testing.T) {
	dir, base := gitRepo(t, map[string]string{
		"platform/sp.yaml":      "platform v1",
		"apps/a.yaml":           "a v1",
		"apps/b.yaml":           "b v1",
		"apps/notes.md":         "not read",
		"apps/drafts/x.yaml":    "excluded",
		"apps/.github/ci.yaml":  "a CI file",
		"apps/sub/deeper.yml":   "deeper v1",
		"elsewhere/other.yaml":  "not a source",
		"apps/sub/README.yaml~": "not read",
	})
	gitCommit(t, dir, map[string]string{"apps/a.yaml": "a v2", "apps/b.yaml": "", "apps/c.yaml": "c v2"})
	writeFiles(t, dir, map[string]string{"apps/a.yaml": "a v3 (not committed)"})
	t.Chdir(dir)

	cfg := source.PlatformPathsConfig([]string{"platform"}, []string{"apps"}, []string{"ShinyProxy"})
	cfg.Sources[1].Exclude = []string{"drafts/**"}
	for _, ref := range []string{base, base[:8], "HEAD~1", "HEAD^"} {
		rev, err := source.AtRevision(cfg, ".", ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if rev.Commit != base || !reflect.DeepEqual(rev.Sources, []string{"platform", "apps"}) {
			t.Errorf("%s: commit %s, sources %v", ref, rev.Commit, rev.Sources)
		}
		loaded := rev.Load(context.Background(), cfg, loadOpts(t))
		if got, want := files(loaded[1]), []string{"apps/a.yaml: a v1", "apps/b.yaml: b v1", "apps/sub/deeper.yml: deeper v1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: apps at the base\n%q\nwant\n%q", ref, got, want)
		}
		if got := files(loaded[0]); !reflect.DeepEqual(got, []string{"platform/sp.yaml: platform v1"}) || loaded[0].Revision != base {
			t.Errorf("%s: platform at the base %q (revision %s)", ref, got, loaded[0].Revision)
		}
	}

	// The checkout, as the check reads it: the same names.
	head := source.Load(context.Background(), cfg, loadOpts(t))
	if got, want := files(head[1]), []string{"apps/a.yaml: a v3 (not committed)", "apps/c.yaml: c v2", "apps/sub/deeper.yml: deeper v1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the checkout\n%q\nwant\n%q", got, want)
	}
}

// A source path that was not there at the base was empty then (its apps
// are all new); one that is a file is read at the base as on the disk.
func TestAtRevisionNewPathAndFile(t *testing.T) {
	dir, base := gitRepo(t, map[string]string{"platform/sp.yaml": "p", "app.yaml": "app v1"})
	gitCommit(t, dir, map[string]string{"apps/new.yaml": "new", "app.yaml": "app v2"})
	newApps, oneFile := filepath.Join(dir, "apps"), filepath.Join(dir, "app.yaml")
	cfg := source.PlatformPathsConfig([]string{filepath.Join(dir, "platform")}, []string{newApps, oneFile}, []string{"ShinyProxy"})
	rev, err := source.AtRevision(cfg, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	loaded := rev.Load(context.Background(), cfg, loadOpts(t))
	if loaded[1].Failed || len(loaded[1].Files) != 0 || len(loaded[1].Findings) != 0 {
		t.Errorf("a path new since the base: %+v", loaded[1])
	}
	if got := files(loaded[2]); !reflect.DeepEqual(got, []string{filepath.ToSlash(oneFile) + ": app v1"}) {
		t.Errorf("a file source at the base: %q", got)
	}
}

// Sources that are not the pull request's files read the same on both
// sides, from the disk: a directory outside the repository, a repository
// cloned inside the checkout, a directory Git does not track.
func TestAtRevisionOtherSourcesFromDisk(t *testing.T) {
	dir, base := gitRepo(t, map[string]string{"apps/a.yaml": "a v1"})
	gitCommit(t, dir, map[string]string{"apps/a.yaml": "a v2"})
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"sp.yaml": "outside"})
	nested := filepath.Join(dir, "platform-repo")
	if _, err := git.PlainInit(nested, false); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, nested, map[string]string{"sp.yaml": "nested"})
	untracked := filepath.Join(dir, "downloaded")
	writeFiles(t, untracked, map[string]string{"sp.yaml": "untracked"})

	cfg := source.PlatformPathsConfig([]string{outside, nested, untracked}, []string{filepath.Join(dir, "apps")}, []string{"ShinyProxy"})
	rev, err := source.AtRevision(cfg, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{cfg.Sources[3].Name}; !reflect.DeepEqual(rev.Sources, want) {
		t.Errorf("read at the revision: %v, want %v", rev.Sources, want)
	}
	loaded := rev.Load(context.Background(), cfg, loadOpts(t))
	for i, want := range []string{"outside", "nested", "untracked", "a v1"} {
		if len(loaded[i].Files) != 1 || string(loaded[i].Files[0].Data) != want || loaded[i].Source != cfg.Sources[i] {
			t.Errorf("source %s: %q, want %q", cfg.Sources[i].Name, files(loaded[i]), want)
		}
	}
}

// Errors say what is wrong in the user's words.
func TestAtRevisionErrors(t *testing.T) {
	dir, head := gitRepo(t, map[string]string{"apps/a.yaml": "a"})
	cfg := source.PlatformPathsConfig(nil, []string{filepath.Join(dir, "apps")}, nil)
	if _, err := source.AtRevision(cfg, dir, "origin/main"); err == nil || err.Error() != "origin/main: no such revision in the repository at "+dir {
		t.Errorf("an unknown revision: %v", err)
	}
	// A clone CI made shallow may just not have it: the error says so.
	if err := os.WriteFile(filepath.Join(dir, ".git", "shallow"), []byte(head+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := source.AtRevision(cfg, dir, "HEAD~1"); err == nil || !strings.Contains(err.Error(), "HEAD~1: no such revision in the repository at "+dir+" (the clone is shallow") {
		t.Errorf("a shallow clone: %v", err)
	}
	notRepo := t.TempDir()
	if _, err := source.AtRevision(cfg, notRepo, "HEAD"); err == nil || !strings.Contains(err.Error(), "HEAD: no Git repository at "+notRepo) {
		t.Errorf("outside a repository: %v", err)
	}
	elsewhere := source.PlatformPathsConfig(nil, []string{notRepo}, nil)
	if _, err := source.AtRevision(elsewhere, dir, "HEAD"); err == nil || !strings.Contains(err.Error(), "no local source of the check is in the repository") {
		t.Errorf("no source in the repository: %v", err)
	}
}
