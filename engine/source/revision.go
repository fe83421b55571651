package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/laiki-platform/laiki/engine/finding"
)

// Revision reads the local sources of a configuration that lie in one Git
// work tree (a pull request's checkout) as a commit of that repository has
// them, instead of from the disk: `laiki check --against REF` runs the
// engine on the pull request's base this way and compares the two runs.
//
// Only the files are read at the commit. The configuration (laiki.yaml's
// sources, allow, policy-data and budgets, or what --platform made of the
// checkout) stays the checkout's, so that the comparison shows what the
// files change under one set of rules. Every other source reads the same
// on both sides: a Git or ConfigMap source, a directory outside the
// repository or in a repository of its own (a platform cloned inside the
// checkout), and a directory Git does not track (absent from both the
// commit and HEAD: a platform downloaded beside the apps, say).
type Revision struct {
	Ref    string // as the user gave it
	Commit string // the commit it names
	Root   string // the work tree
	// Sources names the sources read at the commit, in the
	// configuration's order.
	Sources []string

	tree *object.Tree
	// at maps the name of each source read at the commit to its path as
	// configured and its place in the commit's tree.
	at map[string]place
}

// place is where a source's files are, on the disk and in the tree.
type place struct {
	path string // Source.Path, as configured
	rel  string // in the tree, with /; "" for the root
}

// AtRevision resolves ref (a branch, a tag, a commit, origin/main, HEAD~1)
// in the Git repository whose work tree holds dir, and returns what reads
// the configuration's local sources of that work tree at that commit. A
// source whose path did not exist at the commit was empty then: its
// resources are all new. Errors say what is wrong with ref in the words of
// someone who typed it.
func AtRevision(cfg *Config, dir, ref string) (*Revision, error) {
	root, err := workTreeOf(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: no Git repository at %s or above it", ref, dir)
	}
	repo, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("%s: the repository at %s cannot be opened: %w", ref, dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return nil, fmt.Errorf("%s: no such revision in the repository at %s%s", ref, dir, shallowHint(repo))
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("%s: commit %s cannot be read in the repository at %s: %w", ref, shortHash(*h), dir, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("%s: the files of commit %s cannot be read: %w", ref, shortHash(*h), err)
	}
	r := &Revision{Ref: ref, Commit: c.Hash.String(), Root: root, tree: tree, at: map[string]place{}}
	head := headTree(repo)
	for _, s := range cfg.Sources {
		rel, ok := r.tracked(s, head)
		if !ok {
			continue
		}
		r.at[s.Name] = place{path: s.Path, rel: rel}
		r.Sources = append(r.Sources, s.Name)
	}
	if len(r.Sources) == 0 {
		return nil, fmt.Errorf("%s: no local source of the check is in the repository at %s, so none reads differently at that revision", ref, dir)
	}
	return r, nil
}

// tracked gives the place in the tree of a local source that belongs to
// the work tree, and whether it does.
func (r *Revision) tracked(s *Source, head *object.Tree) (string, bool) {
	if s.Path == "" || s.Git != nil || s.ConfigMap != nil {
		return "", false
	}
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		return "", false
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false // not on the disk: the check reports it
	}
	if own, err := workTreeOf(resolved); err != nil || own != r.Root {
		return "", false
	}
	rel, err := filepath.Rel(r.Root, resolved)
	if err != nil {
		return "", false
	}
	if rel = filepath.ToSlash(rel); rel == "." {
		rel = ""
	}
	if !inTree(r.tree, rel) && head != nil && !inTree(head, rel) {
		return "", false // Git knows nothing of it
	}
	return rel, true
}

// workTreeOf finds the root of the Git work tree holding p: the nearest
// directory, p or above, with a .git (a directory, or the file of a linked
// work tree or a submodule), with symbolic links resolved.
func workTreeOf(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	d, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if info, err := os.Stat(d); err == nil && !info.IsDir() {
		d = filepath.Dir(d)
	}
	for {
		if _, err := os.Lstat(filepath.Join(d, git.GitDirName)); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("not in a Git work tree")
		}
		d = up
	}
}

// headTree is the tree of the checkout's HEAD commit, nil when it has none.
func headTree(repo *git.Repository) *object.Tree {
	ref, err := repo.Head()
	if err != nil {
		return nil
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil
	}
	t, err := c.Tree()
	if err != nil {
		return nil
	}
	return t
}

// inTree reports whether a path (with /, "" the root) is in a tree.
func inTree(t *object.Tree, rel string) bool {
	if rel == "" {
		return true
	}
	_, err := t.FindEntry(rel)
	return err == nil
}

// shallowHint says why a revision may be missing from a clone that CI
// made shallow (actions/checkout fetches one commit by default).
func shallowHint(repo *git.Repository) string {
	if commits, err := repo.Storer.Shallow(); err == nil && len(commits) > 0 {
		return " (the clone is shallow and may not have it: fetch it first, e.g. git fetch --depth=1 origin main, " +
			"or clone deeper: with fetch-depth: 2, a pull request's merge commit has its base, HEAD^1)"
	}
	return ""
}

// Load reads the sources of a configuration, as Load does, except those
// read at the commit: it is the Loader of pipeline.Options for a run on the
// revision.
func (r *Revision) Load(ctx context.Context, cfg *Config, opts Options) []*Loaded {
	opts.defaults()
	rest := *cfg
	rest.Sources = nil
	for _, s := range cfg.Sources {
		if !r.reads(s) {
			rest.Sources = append(rest.Sources, s)
		}
	}
	others := Load(ctx, &rest, opts)
	out := make([]*Loaded, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		if r.reads(s) {
			out = append(out, r.load(cfg, s, opts))
			continue
		}
		out, others = append(out, others[0]), others[1:]
	}
	return out
}

// reads reports whether a source is read at the commit: one of that name
// and path was found in the work tree.
func (r *Revision) reads(s *Source) bool {
	p, ok := r.at[s.Name]
	return ok && p.path == s.Path && s.Git == nil && s.ConfigMap == nil
}

// load reads one source from the commit's tree; a read that fails is an
// error against the source's entry, as Load reports it.
func (r *Revision) load(cfg *Config, s *Source, opts Options) *Loaded {
	l := &Loaded{Source: s, Revision: r.Commit}
	if err := r.read(s, l, opts); err != nil {
		l.Failed = true
		loc := finding.Location{File: cfg.File, Line: s.Line, Column: s.Column}
		if cfg.File == "" {
			loc = finding.Location{File: s.Path}
		}
		l.Findings = append(l.Findings, finding.Finding{Severity: finding.Error, Location: loc, Policy: finding.CheckSource, Source: s.Name,
			Message: fmt.Sprintf("source %s (%s at %s, commit %s) could not be read: %v", s.Name, s.Describe(), r.Ref, shortHash(plumbing.NewHash(r.Commit)), err)})
	}
	return l
}

// read reads a source's files from the tree, named as loadLocal names the
// same files on the disk (under the source's path as configured), so that
// a finding or a plan names the same file on both sides.
func (r *Revision) read(s *Source, l *Loaded, opts Options) error {
	rel := r.at[s.Name].rel
	shown := filepath.ToSlash(filepath.Clean(s.Path))
	if rel == "" {
		return readTree(s, l, opts, r.tree, shown, "")
	}
	e, err := r.tree.FindEntry(rel)
	if err != nil {
		return nil // not there at the commit: the source was empty then
	}
	if e.Mode == filemode.Dir {
		sub, err := r.tree.Tree(rel)
		if err != nil {
			return err
		}
		return readTree(s, l, opts, sub, shown, "")
	}
	// A source that is one file is read whatever its name, as on the disk.
	return readEntry(s, l, opts, r.tree, path.Dir(shown), path.Base(shown), e)
}
