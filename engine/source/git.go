package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/laiki-platform/laiki/engine/finding"
)

// gitCache keeps one bare repository per URL under dir. Files are read
// straight from the commit's tree: no work tree is checked out, so nothing in
// the repository (hooks, links, filters) runs or escapes it.
type gitCache struct {
	dir   string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// lock serialises work on one cached repository: two sources may read two
// directories of the same repository.
func (g *gitCache) lock(key string) func() {
	g.mu.Lock()
	if g.locks == nil {
		g.locks = map[string]*sync.Mutex{}
	}
	m, ok := g.locks[key]
	if !ok {
		m = &sync.Mutex{}
		g.locks[key] = m
	}
	g.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (g *gitCache) load(ctx context.Context, s *Source, l *Loaded, opts Options) error {
	auth, err := gitAuth(s.Git, opts.Getenv)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(s.Git.URL))
	key := hex.EncodeToString(sum[:12])
	defer g.lock(key)()
	dir := filepath.Join(g.dir, key)

	commit, err := fetch(ctx, dir, s.Git, auth)
	var unreachable *remoteError
	if err != nil && ctx.Err() == nil && !errors.Is(err, errRef) && !isTransport(err) && !errors.As(err, &unreachable) {
		// A cache left broken by an interrupted run: start it afresh once.
		if rmErr := os.RemoveAll(dir); rmErr == nil {
			commit, err = fetch(ctx, dir, s.Git, auth)
		}
	}
	if err != nil {
		return err
	}
	l.Revision = commit.Hash.String()
	read := &gitRead{url: s.Git.URL, dir: s.Git.Dir, exclude: slices.Clone(s.Exclude), maxFileBytes: opts.MaxFileBytes, commit: l.Revision}
	if opts.Previous != nil {
		if prev := opts.Previous(s); prev != nil && !prev.Failed && prev.read != nil && prev.read.same(read) {
			// Files are only read after a load, never written: sharing their
			// bytes with the last read is safe. Its findings are those of the
			// tree (links, files over the limit), the same for the same read.
			l.Files, l.Findings, l.read = slices.Clone(prev.Files), slices.Clone(prev.Findings), read
			compact(ctx, dir, s.Git, auth)
			return nil
		}
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	sub := strings.Trim(path.Clean("/"+filepath.ToSlash(s.Git.Dir)), "/")
	if sub != "" {
		if tree, err = tree.Tree(sub); err != nil {
			return fmt.Errorf("directory %q not found at %s", s.Git.Dir, shortHash(commit.Hash))
		}
	}
	// The tree's entries are walked by name first: only the blobs of the
	// files Laiki reads are opened (a team repository may hold data, images
	// and notebooks besides).
	if err := readTree(s, l, opts, tree, sub, ""); err != nil {
		return err
	}
	l.read = read
	compact(ctx, dir, s.Git, auth)
	return nil
}

// gitRead is what a Git source's files depend on: the commit, and which of
// its files were read (repository, directory, exclusions, size limit).
type gitRead struct {
	url, dir     string
	exclude      []string
	maxFileBytes int64
	commit       string
}

func (a *gitRead) same(b *gitRead) bool {
	return a.url == b.url && a.dir == b.dir && slices.Equal(a.exclude, b.exclude) && a.maxFileBytes == b.maxFileBytes && a.commit == b.commit
}

// readTree walks a tree by its entries' names first: only the blobs of the
// files Laiki reads are opened (a team repository may hold data, images
// and notebooks besides), each through the tree that holds it.
func readTree(s *Source, l *Loaded, opts Options, tree *object.Tree, sub, prefix string) error {
	for i := range tree.Entries {
		e := &tree.Entries[i]
		name := path.Join(prefix, e.Name)
		switch {
		case e.Mode == filemode.Dir:
			subtree, err := tree.Tree(e.Name)
			if err != nil {
				return err
			}
			if err := readTree(s, l, opts, subtree, sub, name); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule || !Wanted(e.Name) || s.Excluded(name):
		default:
			if err := readEntry(s, l, opts, tree, sub, name, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// readEntry reads one wanted file of a tree: a symbolic link or a file over
// the size limit is a finding, not read.
func readEntry(s *Source, l *Loaded, opts Options, tree *object.Tree, sub, name string, entry *object.TreeEntry) error {
	p := path.Join(sub, name)
	if entry.Mode == filemode.Symlink {
		l.Findings = append(l.Findings, finding.Finding{Severity: finding.Notice, Location: finding.Location{File: p},
			Policy: finding.CheckSource, Source: s.Name, Message: "a symbolic link; Laiki reads only regular files from Git, skipped"})
		return nil
	}
	f, err := tree.TreeEntryFile(entry)
	if err != nil {
		return err
	}
	if f.Size > opts.MaxFileBytes {
		l.Findings = append(l.Findings, finding.Finding{Severity: finding.Error, Location: finding.Location{File: p},
			Policy: finding.CheckSource, Source: s.Name, Message: fmt.Sprintf("file is %d bytes, more than the %d a Laiki file may have; not read", f.Size, opts.MaxFileBytes)})
		return nil
	}
	rd, err := f.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	l.Files = append(l.Files, File{Path: p, Data: data})
	return nil
}

var errRef = errors.New("ref not found")

// remoteError is a remote that could not be asked what its refs are: the
// server is down or unreachable, which says nothing about the cache, so the
// cache is kept for when it is back.
type remoteError struct{ err error }

func (e *remoteError) Error() string { return e.err.Error() }
func (e *remoteError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	return errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound) || errors.Is(err, transport.ErrInvalidAuthMethod)
}

// fetch brings the commit that spec.Ref names into the cache at dir and
// returns it. It asks the remote what the ref points at first, so that a ref
// already in the cache costs one round trip and no download.
func fetch(ctx context.Context, dir string, spec *GitSpec, auth transport.AuthMethod) (*object.Commit, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if repo, err = git.PlainInit(dir, true); err != nil {
			return nil, err
		}
	}
	// The remote is never written to the cache's config: a URL is not
	// stored anywhere Laiki does not need it (a cache an earlier version
	// made has it: it goes).
	if _, err := repo.Remote("origin"); err == nil {
		_ = repo.DeleteRemote("origin")
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{spec.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return nil, &remoteError{err}
	}
	name, hash, err := resolveRef(refs, spec.Ref)
	if err != nil {
		return nil, err
	}
	if hash.IsZero() {
		// A commit that no ref advertises: unless the cache has it, fetch
		// the branches and tags with their whole history (deepening what
		// earlier shallow fetches left), then look for it.
		if h, err := repo.ResolveRevision(plumbing.Revision(spec.Ref)); err == nil {
			if c, err := peel(repo, *h); err == nil {
				return c, nil
			}
		}
		err = remote.FetchContext(ctx, &git.FetchOptions{Auth: auth, Force: true, Tags: git.NoTags, Depth: math.MaxInt32,
			RefSpecs: []config.RefSpec{"+refs/heads/*:refs/laiki/heads/*", "+refs/tags/*:refs/laiki/tags/*"}})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, err
		}
		h, err := repo.ResolveRevision(plumbing.Revision(spec.Ref))
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a branch, tag or commit of the repository", errRef, spec.Ref)
		}
		return peel(repo, *h)
	}
	if c, err := peel(repo, hash); err == nil {
		return c, nil // already here: nothing to download
	}
	local := plumbing.ReferenceName("refs/laiki/" + strings.TrimPrefix(name.String(), "refs/"))
	err = remote.FetchContext(ctx, &git.FetchOptions{Auth: auth, Depth: 1, Force: true, Tags: git.NoTags,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + name.String() + ":" + local.String())}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, err
	}
	return peel(repo, hash)
}

// peel follows annotated tags to the commit they name.
func peel(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		if tag, err := repo.TagObject(h); err == nil {
			h = tag.Target
			continue
		}
		return repo.CommitObject(h)
	}
	return nil, fmt.Errorf("tag chain too long at %s", h)
}

var hexRef = regexp.MustCompile(`^[0-9a-f]{4,40}$`)

// resolveRef finds the ref a user named: a branch, a tag, a full ref name,
// HEAD (or nothing), or a commit. A commit that no ref points at comes back
// with a zero hash.
func resolveRef(refs []*plumbing.Reference, ref string) (plumbing.ReferenceName, plumbing.Hash, error) {
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name()] = r
	}
	resolve := func(n plumbing.ReferenceName) (plumbing.ReferenceName, plumbing.Hash, bool) {
		for range 5 {
			r, ok := byName[n]
			if !ok {
				return "", plumbing.ZeroHash, false
			}
			if r.Type() == plumbing.SymbolicReference {
				n = r.Target()
				continue
			}
			return r.Name(), r.Hash(), true
		}
		return "", plumbing.ZeroHash, false
	}
	if ref == "" || ref == "HEAD" {
		if n, h, ok := resolve(plumbing.HEAD); ok {
			return n, h, nil
		}
		return "", plumbing.ZeroHash, fmt.Errorf("%w: the repository has no HEAD; name a branch with git.ref", errRef)
	}
	for _, n := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref), plumbing.ReferenceName(ref)} {
		if n, h, ok := resolve(n); ok {
			return n, h, nil
		}
	}
	if hexRef.MatchString(ref) {
		for _, r := range refs {
			if r.Type() == plumbing.HashReference && strings.HasPrefix(r.Hash().String(), ref) && len(ref) == 40 {
				return r.Name(), r.Hash(), nil
			}
		}
		return "", plumbing.ZeroHash, nil
	}
	return "", plumbing.ZeroHash, fmt.Errorf("%w: %q is not a branch, tag or commit of the repository", errRef, ref)
}

func shortHash(h plumbing.Hash) string { return h.String()[:12] }

// gitAuth builds the credentials a source names. Secrets come from the
// environment or files, so they are never in laiki.yaml nor in any output.
func gitAuth(spec *GitSpec, getenv func(string) string) (transport.AuthMethod, error) {
	a := spec.Auth
	if a == nil {
		return nil, nil
	}
	secret := func(env, file, what string) (string, error) {
		switch {
		case env != "":
			v := getenv(env)
			if v == "" {
				return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
			}
			return v, nil
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("%s: %w", what, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return "", nil
	}
	if a.SSHKeyEnv != "" || a.SSHKeyFile != "" {
		key, err := secret(a.SSHKeyEnv, a.SSHKeyFile, "ssh key")
		if err != nil {
			return nil, err
		}
		pass := ""
		if a.SSHKeyPassphraseEnv != "" {
			pass = getenv(a.SSHKeyPassphraseEnv)
		}
		user := a.Username
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, []byte(key+"\n"), pass)
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		if a.KnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(a.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("known hosts: %w", err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	token, err := secret(a.TokenEnv, a.TokenFile, "token")
	if err != nil || token == "" {
		return nil, err
	}
	user := a.Username
	if user == "" {
		user = "laiki"
	}
	return &githttp.BasicAuth{Username: user, Password: token}, nil
}

// hasUserInfo reports whether a URL carries a password or token.
func hasUserInfo(raw string) bool {
	if m := scpURL.FindStringSubmatch(raw); m != nil && !strings.Contains(raw, "://") {
		return strings.Contains(m[1], ":") // oauth2:TOKEN@host:path; git@host:path is a user name
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return true // ?private_token=...: Git needs neither
	}
	if u.User == nil {
		return false
	}
	_, hasPass := u.User.Password()
	return hasPass || (u.Scheme == "http" || u.Scheme == "https")
}

var (
	urlCreds = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)
	// scpURL is Git's scp-like syntax, [user@]host:path.
	scpURL = regexp.MustCompile(`^([^@/\s]+)@([^:/\s]+):`)
	// scpCreds finds user:password@host: in a text.
	scpCreds = regexp.MustCompile(`(^|[\s"'(=])[^\s@"'/:(=]+:[^\s@"'/]+@([A-Za-z0-9.-]+:)`)
	// urlQuery finds the query or fragment of a URL in a text.
	urlQuery = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'?#]*)([?#])[^\s"']*`)
)

// Redact removes credentials from a URL before it is shown.
func Redact(raw string) string { return redactAll(raw) }

// redactAll removes anything that looks like credentials in a URL from a
// text (error messages from transports quote the URL).
func redactAll(s string) string {
	s = scpCreds.ReplaceAllString(s, "${1}***@${2}")
	s = urlQuery.ReplaceAllString(s, "${1}${2}***")
	return urlCreds.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "ssh://") {
			if i := strings.Index(m, "://"); i >= 0 && !strings.Contains(m[i+3:], ":") {
				return m // ssh://git@host: a user name, not a secret
			}
		}
		return urlCreds.ReplaceAllString(m, "${1}***@")
	})
}

// maxPacks is how many pack files a cached repository may pile up (one a
// fetch) before it is made anew.
const maxPacks = 16

// compact keeps a cached repository bounded over an operator's life: when
// fetches have left more than maxPacks packs, the repository is fetched
// anew beside it (shallow, as every fetch; the remote has just answered)
// and takes its place. Git's own repack cannot walk a shallow history. A
// fetch that fails leaves the cache as it was.
func compact(ctx context.Context, dir string, spec *GitSpec, auth transport.AuthMethod) {
	entries, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		return
	}
	packs := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pack") {
			packs++
		}
	}
	if packs <= maxPacks {
		return
	}
	fresh, old := dir+".new", dir+".old"
	_ = os.RemoveAll(fresh)
	if _, err := fetch(ctx, fresh, spec, auth); err != nil {
		_ = os.RemoveAll(fresh)
		return
	}
	_ = os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil {
		_ = os.RemoveAll(fresh)
		return
	}
	if err := os.Rename(fresh, dir); err != nil {
		_ = os.Rename(old, dir)
	}
	_ = os.RemoveAll(old)
}
