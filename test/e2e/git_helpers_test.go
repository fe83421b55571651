package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var gitEnv = []string{
	"GIT_AUTHOR_NAME=Laiki Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Laiki Test", "GIT_COMMITTER_EMAIL=test@example.com",
	"GIT_CONFIG_NOSYSTEM=1", "HOME=" + os.TempDir(),
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// write puts files into a directory.
func write(t *testing.T, dir string, files map[string]string) {
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

// gitRepo makes a repository under root/name.git (bare, served) from a work
// tree with the files, one commit, and returns the bare path and the work tree.
func gitRepo(t *testing.T, root, name string, files map[string]string) (bare, work string) {
	t.Helper()
	work = filepath.Join(root, name+"-work")
	bare = filepath.Join(root, name+".git")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, work, "init", "-q")
	write(t, work, files)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "first")
	git(t, root, "clone", "-q", "--bare", work, bare)
	git(t, work, "remote", "add", "origin", bare)
	return bare, work
}

// commit adds files to the work tree, commits and pushes; it returns the commit.
func commit(t *testing.T, work string, files map[string]string, msg string) string {
	t.Helper()
	write(t, work, files)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", msg)
	git(t, work, "push", "-q", "origin", "HEAD:main", "--tags")
	return git(t, work, "rev-parse", "HEAD")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// gitDaemon serves root over git:// on loopback until the test ends.
func gitDaemon(t *testing.T, root string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--base-path="+root, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), root)
	cmd.Env = append(os.Environ(), gitEnv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "git://" + addr
		}
	}
	t.Fatal("git daemon did not start")
	return ""
}

// gitHTTP serves root through git http-backend on loopback, asking for basic
// auth with the token (any user name), until the test ends.
func gitHTTP(t *testing.T, root, token string) string {
	t.Helper()
	exe := git(t, root, "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(exe, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		if _, pass, _ := strings.Cut(string(raw), ":"); !strings.HasPrefix(auth, "Basic ") || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// report is the part of `laiki check -o json` the tests read.
type report struct {
	Findings []struct {
		Severity, File, Message, Policy, Source string
		Line                                    int
	} `json:"findings"`
	Summary   map[string]int `json:"summary"`
	Resources []struct {
		Resource, ID, File, Source string
		Accepted                   bool
	} `json:"resources"`
	Sources []struct {
		Name, Revision string
		Files          int
		Failed         bool
	} `json:"sources"`
}

func parseReport(t *testing.T, r result) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON (%v):\n%s\n%s", err, r.stdout, r.stderr)
	}
	return rep
}

func (rep report) finding(t *testing.T, sev, file string, line int, msg string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Severity == sev && f.File == file && (line < 0 || f.Line == line) && strings.Contains(f.Message, msg) {
			return
		}
	}
	t.Errorf("no %s at %s:%d containing %q in %+v", sev, file, line, msg, rep.Findings)
}

func (rep report) source(name string) (revision string, failed bool) {
	for _, s := range rep.Sources {
		if s.Name == name {
			return s.Revision, s.Failed
		}
	}
	return "", true
}

func (rep report) accepted(id string) bool {
	for _, r := range rep.Resources {
		if r.ID == id {
			return r.Accepted
		}
	}
	return false
}

func exampleFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(repo, "examples", dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(repo, "examples", dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[dir+"/"+e.Name()] = string(b)
	}
	return out
}

// config writes a laiki.yaml with the example platform as a local source and
// the given team sources, and returns its directory.
func config(t *testing.T, teams string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, map[string]string{"laiki.yaml": fmt.Sprintf("sources:\n  - name: platform\n    path: %s\n    role: platform\n%s",
		filepath.Join(repo, "examples", "platform"), teams)})
	return dir
}

func team(name, gitSpec string) string {
	return fmt.Sprintf("  - name: %s\n    git: %s\n    allow: {target-namespaces: [ShinyProxy]}\n", name, gitSpec)
}

func fmtInt(i int) string { return fmt.Sprint(i) }
