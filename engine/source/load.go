package source

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/laiki-platform/laiki/engine/finding"
)

// File is one file read from a source.
type File struct {
	// Path as shown to users: relative to the working directory for local
	// sources, relative to the repository root for Git sources (the path a
	// pull request shows).
	Path string
	Data []byte
}

// Loaded is what reading one source gave.
type Loaded struct {
	Source *Source
	Files  []File
	// Revision is the Git commit read, empty for local sources.
	Revision string
	Findings []finding.Finding
	// read says how a Git source's files were read, for Options.Previous.
	read *gitRead
	// Failed is set when the source could not be read at all.
	Failed bool
}

// Options tune loading.
type Options struct {
	// CacheDir keeps Git repositories between runs so that a second run only
	// fetches. Default: the user's cache directory.
	CacheDir string
	// MaxFileBytes: larger files are reported and not read.
	MaxFileBytes int64
	// Getenv reads credentials named by environment variable (os.Getenv by default).
	Getenv func(string) string
	// ConfigMaps reads a ConfigMap's data and resourceVersion (from the
	// cluster Laiki runs against); nil where there is no cluster.
	ConfigMaps func(ctx context.Context, namespace, name string) (data map[string]string, version string, err error)
	// Parallelism bounds the sources read at once (default 8): a hundred
	// Git clones at a time would hold a hundred packfiles in memory.
	Parallelism int
	// Previous gives a source's last good read (nil: none), kept by a
	// caller that reads the same sources again and again (the reconcile
	// loop). A Git source fetched at the commit that read was of, and read
	// the same way (see gitRead), takes its files from it rather than
	// opening every blob of the commit again: a commit never changes, so
	// neither do its files, and a reconcile of a hundred repositories of
	// which one moved reads one.
	Previous func(*Source) *Loaded
}

func (o *Options) defaults() {
	if o.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			o.CacheDir = filepath.Join(dir, "laiki", "git")
		} else {
			o.CacheDir = filepath.Join(os.TempDir(), "laiki-cache", "git")
		}
	}
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = 1 << 20
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 8
	}
}

// Wanted reports whether a file name is one Laiki reads.
func Wanted(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".rego":
		return true
	}
	return false
}

// Load reads every source of the configuration, in parallel. A source that
// fails is reported against its entry in laiki.yaml; the others still load.
func Load(ctx context.Context, cfg *Config, opts Options) []*Loaded {
	opts.defaults()
	out := make([]*Loaded, len(cfg.Sources))
	g := &gitCache{dir: opts.CacheDir}
	var group errgroup.Group
	group.SetLimit(opts.Parallelism)
	for i, s := range cfg.Sources {
		group.Go(func() error {
			l, err := loadOne(ctx, g, s, opts)
			if err != nil {
				l.Failed = true
				loc := finding.Location{File: cfg.File, Line: s.Line, Column: s.Column}
				if cfg.File == "" {
					loc = finding.Location{File: s.Path}
				}
				l.Findings = append(l.Findings, finding.Finding{
					Severity: finding.Error, Location: loc, Policy: finding.CheckSource, Source: s.Name,
					Message: fmt.Sprintf("source %s (%s) could not be read: %s", s.Name, s.Describe(), redactAll(err.Error())),
				})
			}
			out[i] = l
			return nil // a source that fails is a finding, never a stop
		})
	}
	_ = group.Wait()
	return out
}

// loadOne reads one source within its time limit. A read that does not
// end by then (a remote that accepts and never answers, on a transport
// that does not heed the context) is left behind, and the source fails
// alone: the others are read and applied.
func loadOne(ctx context.Context, g *gitCache, s *Source, opts Options) (*Loaded, error) {
	timeout := s.ReadTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		l   *Loaded
		err error
	}
	done := make(chan result, 1)
	go func() {
		l := &Loaded{Source: s}
		var err error
		switch {
		case s.Git != nil:
			err = g.load(ctx, s, l, opts)
		case s.ConfigMap != nil:
			err = loadConfigMap(ctx, s, l, opts)
		default:
			err = loadLocal(s, l, opts)
		}
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() == context.DeadlineExceeded {
			r.err = fmt.Errorf("no answer within %s (the source's timeout): %w", timeout, r.err)
		}
		return r.l, r.err
	case <-ctx.Done():
		if ctx.Err() != context.DeadlineExceeded {
			return &Loaded{Source: s}, ctx.Err()
		}
		return &Loaded{Source: s}, fmt.Errorf("no answer within %s (the source's timeout)", timeout)
	}
}

// loadConfigMap reads the keys of a ConfigMap as files named
// configmap/<namespace>/<name>/<key>; its resourceVersion is the revision.
func loadConfigMap(ctx context.Context, s *Source, l *Loaded, opts Options) error {
	if opts.ConfigMaps == nil {
		return fmt.Errorf("a ConfigMap is read only where Laiki runs against a cluster (laiki apply, operator, webhook)")
	}
	data, version, err := opts.ConfigMaps(ctx, s.ConfigMap.Namespace, s.ConfigMap.Name)
	if err != nil {
		return err
	}
	keys := slices.Sorted(maps.Keys(data))
	for _, k := range keys {
		path := "configmap/" + s.ConfigMap.Namespace + "/" + s.ConfigMap.Name + "/" + k
		switch {
		case !Wanted(k):
			l.Findings = append(l.Findings, finding.Finding{Severity: finding.Notice, Location: finding.Location{File: path}, Source: s.Name, Policy: finding.CheckSource,
				Message: "not a .yaml, .yml or .rego key; skipped"})
		case int64(len(data[k])) > opts.MaxFileBytes:
			l.Findings = append(l.Findings, finding.Finding{Severity: finding.Error, Location: finding.Location{File: path}, Source: s.Name, Policy: finding.CheckSource,
				Message: fmt.Sprintf("%d bytes, more than the limit of %d; not read", len(data[k]), opts.MaxFileBytes)})
		default:
			l.Files = append(l.Files, File{Path: path, Data: []byte(data[k])})
		}
	}
	l.Revision = version
	return nil
}

func loadLocal(s *Source, l *Loaded, opts Options) error {
	root, err := filepath.Abs(s.Path)
	if err != nil {
		return err
	}
	info, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		data, err := readLimited(root, opts.MaxFileBytes)
		if err != nil {
			return err
		}
		shown := filepath.ToSlash(filepath.Clean(s.Path))
		if s.Shown != "" {
			shown = s.Shown
		}
		l.Files = append(l.Files, File{Path: shown, Data: data})
		return nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	w := localWalk{s: s, l: l, opts: opts, root: root, realRoot: realRoot}
	return filepath.WalkDir(root, w.visit)
}

// localWalk reads the files of a local source's directory.
type localWalk struct {
	s              *Source
	l              *Loaded
	opts           Options
	root, realRoot string
}

// display is a file's name under the source's path as written (relative
// to the working directory, or as laiki.yaml names it): what the user typed
// and what a pull request shows.
func (w *localWalk) display(p string) string {
	rel, err := filepath.Rel(w.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(filepath.Join(w.s.Path, rel))
}

func (w *localWalk) say(sev finding.Severity, p, format string, args ...any) {
	w.l.Findings = append(w.l.Findings, finding.Finding{Severity: sev, Location: finding.Location{File: w.display(p)},
		Policy: finding.CheckSource, Source: w.s.Name, Message: fmt.Sprintf(format, args...)})
}

func (w *localWalk) visit(p string, d fs.DirEntry, err error) error {
	switch {
	case err != nil:
		w.say(finding.Notice, p, "not read: %v", err)
		return nil
	case d.IsDir() && d.Name() == ".git":
		return filepath.SkipDir
	case d.IsDir() || !Wanted(d.Name()):
		return nil
	}
	if rel, err := filepath.Rel(w.root, p); err == nil && w.s.Excluded(filepath.ToSlash(rel)) {
		return nil
	}
	if !w.readable(p, d) {
		return nil
	}
	data, err := readLimited(p, w.opts.MaxFileBytes)
	if err != nil {
		w.say(finding.Error, p, "%s", err.Error())
		return nil
	}
	w.l.Files = append(w.l.Files, File{Path: w.display(p), Data: data})
	return nil
}

// readable: a regular file, or a link that stays inside the source, so that
// a source cannot read files it does not own.
func (w *localWalk) readable(p string, d fs.DirEntry) bool {
	if d.Type()&fs.ModeSymlink == 0 {
		return d.Type().IsRegular()
	}
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		w.say(finding.Notice, p, "a broken symbolic link; skipped")
		return false
	}
	if rel, err := filepath.Rel(w.realRoot, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		w.say(finding.Notice, p, "a symbolic link to a file outside the source; skipped")
		return false
	}
	return true
}

func readLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > max {
		return nil, fmt.Errorf("file is %d bytes, more than the %d a Laiki file may have; not read", info.Size(), max)
	}
	data := make([]byte, info.Size())
	_, err = io.ReadFull(f, data)
	return data, err
}
