// Package gittest makes real Git repositories for tests and serves them on
// loopback (git daemon, git http-backend), with the git CLI.
package gittest

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Env makes commits reproducible and keeps the user's and the system's
// Git configuration out of the tests.
var Env = []string{
	"GIT_AUTHOR_NAME=Laiki Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Laiki Test", "GIT_COMMITTER_EMAIL=test@example.com",
	"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_TERMINAL_PROMPT=0",
}

func Cmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", "-c", "core.symlinks=true"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, Env...)
	return cmd
}

// Git runs the git CLI in dir and returns its trimmed output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Cmd(dir, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write puts files into a directory.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Repo makes a work tree root/name-work with the files in one commit on
// main, and a bare clone root/name.git that the tests serve; the work tree
// pushes to it.
func Repo(t testing.TB, root, name string, files map[string]string) (bare, work string) {
	t.Helper()
	work = filepath.Join(root, name+"-work")
	bare = filepath.Join(root, name+".git")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	Git(t, work, "init", "-q")
	Write(t, work, files)
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", "first")
	Git(t, root, "clone", "-q", "--bare", work, bare)
	Git(t, work, "remote", "add", "origin", bare)
	return bare, work
}

// Commit writes files into the work tree, removes the paths in remove,
// commits, pushes main and the tags, and returns the new commit.
func Commit(t testing.TB, work string, files map[string]string, msg string, remove ...string) string {
	t.Helper()
	Write(t, work, files)
	for _, p := range remove {
		Git(t, work, "rm", "-q", p)
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", msg)
	Git(t, work, "push", "-q", "origin", "HEAD:main", "--tags")
	return Git(t, work, "rev-parse", "HEAD")
}

func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedURL is a git:// URL on a loopback port that nothing listens on.
func ClosedURL(t testing.TB) string {
	return fmt.Sprintf("git://127.0.0.1:%d/x.git", FreePort(t))
}

// Daemon serves the repositories under root over git:// on loopback until
// the test ends, or until stop is called. It runs git-daemon itself, not the
// `git daemon` wrapper: killing the wrapper would leave the daemon running.
func Daemon(t testing.TB, root string) (url string, stop func()) {
	t.Helper()
	port := FreePort(t)
	exe := filepath.Join(Git(t, root, "--exec-path"), "git-daemon")
	cmd := exec.Command(exe, "--reuseaddr", "--export-all", "--base-path="+root, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), root)
	cmd.Env = Cmd(root).Env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	t.Cleanup(stop)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "git://" + addr, stop
		}
	}
	t.Fatalf("git daemon did not listen on %s", addr)
	return "", nil
}

// HTTPServer counts what the Git HTTP server saw.
type HTTPServer struct {
	URL                string
	Authorized, Denied atomic.Int64
}

// HTTP serves the repositories under root through git http-backend (CGI)
// on loopback until the test ends. Every request needs basic auth whose
// password is the token (any user name), as Git hosts do for tokens.
func HTTP(t testing.TB, root, token string) *HTTPServer {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(Git(t, root, "--exec-path"), "git-http-backend"),
		Dir:  root,
		Env:  append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, Env...),
	}
	s := &HTTPServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		if _, pass, _ := strings.Cut(string(raw), ":"); !strings.HasPrefix(auth, "Basic ") || pass != token {
			s.Denied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		s.Authorized.Add(1)
		backend.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}
