package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/test/gittest"
)

// The Git helpers live in test/gittest, shared with the operator's tests.
var (
	gitCmd    = gittest.Cmd
	git       = gittest.Git
	write     = gittest.Write
	gitRepo   = gittest.Repo
	commit    = gittest.Commit
	freePort  = gittest.FreePort
	closedURL = gittest.ClosedURL
	gitDaemon = gittest.Daemon
	gitHTTP   = gittest.HTTP
)

// finding is one entry of `laiki check -o json`.
type finding struct {
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Message  string `json:"message"`
	Policy   string `json:"policy"`
	Source   string `json:"source"`
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Related  []struct {
		File   string `json:"file"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
		Source string `json:"source"`
	} `json:"related"`
}

func (f finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s] (source %s)", f.File, f.Line, f.Column, f.Severity, f.Message, f.Policy, f.Source)
}

// report is the shape of `laiki check -o json`.
type report struct {
	Findings []finding `json:"findings"`
	Summary  struct {
		Documents  int `json:"documents"`
		Accepted   int `json:"accepted"`
		Rejected   int `json:"rejected"`
		Denials    int `json:"denials"`
		Warnings   int `json:"warnings"`
		Errors     int `json:"errors"`
		Notices    int `json:"notices"`
		NotChecked int `json:"not-checked"`
	} `json:"summary"`
	Resources []struct {
		Resource   string `json:"resource"`
		Type       string `json:"type"`
		ID         string `json:"id"`
		File       string `json:"file"`
		Line       int    `json:"line"`
		Source     string `json:"source"`
		Accepted   bool   `json:"accepted"`
		NotChecked bool   `json:"not-checked"`
	} `json:"resources"`
	Sources []struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		From     string `json:"from"`
		Revision string `json:"revision"`
		Files    int    `json:"files"`
		Failed   bool   `json:"failed"`
	} `json:"sources"`
	PolicyRevision string   `json:"policy-revision"`
	Version        string   `json:"laiki-version"`
	Faults         []string `json:"faults"`
}

func parseReport(t *testing.T, r result) report {
	t.Helper()
	var rep report
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("not the JSON report (%v), exit %d:\n%s\nstderr:\n%s", err, r.code, r.stdout, r.stderr)
	}
	return rep
}

func (rep report) describe() string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// want describes a finding a test expects; empty fields and Line < 0 match
// anything.
type want struct {
	severity, policy, file string
	line                   int
	source, msg            string
}

// find fails the test unless a finding matches w, and returns it.
func (rep report) find(t *testing.T, w want) finding {
	t.Helper()
	for _, f := range rep.Findings {
		if (w.severity == "" || f.Severity == w.severity) && (w.policy == "" || f.Policy == w.policy) &&
			f.File == w.file && (w.line < 0 || f.Line == w.line) && (w.source == "" || f.Source == w.source) &&
			strings.Contains(f.Message, w.msg) {
			return f
		}
	}
	t.Errorf("no %s [%s] at %s:%d (source %q) containing %q; findings:%s", w.severity, w.policy, w.file, w.line, w.source, w.msg, rep.describe())
	return finding{}
}

// where lists the findings of a severity and policy.
func (rep report) where(severity, policy string) []finding {
	var out []finding
	for _, f := range rep.Findings {
		if f.Severity == severity && (policy == "" || f.Policy == policy) {
			out = append(out, f)
		}
	}
	return out
}

// source returns the revision of a source and whether it failed; a source
// missing from the report counts as failed.
func (rep report) source(name string) (revision string, failed bool) {
	for _, s := range rep.Sources {
		if s.Name == name {
			return s.Revision, s.Failed
		}
	}
	return "", true
}

// accepted reports whether the resource with the id was judged and accepted.
func (rep report) accepted(id string) bool {
	for _, r := range rep.Resources {
		if r.ID == id {
			return r.Accepted
		}
	}
	return false
}

// ids lists the resource ids from a source, sorted, with the files they came from.
func (rep report) ids(source string) (ids, files []string) {
	for _, r := range rep.Resources {
		if r.Source == source {
			ids = append(ids, r.ID)
			files = append(files, r.File)
		}
	}
	sort.Strings(ids)
	sort.Strings(files)
	return ids, files
}

// design holds the design document's examples as the document has them:
// these tests use their names (the namespace ShinyProxy, the target
// ShinyProxy) and the findings they draw.
const design = "test/fixtures/design"

// exampleFiles reads test/fixtures/design/<dir>/* as a map from dir/<name>
// to content.
func exampleFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(filepath.Join(repo, design, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(repo, design, dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[dir+"/"+e.Name()] = string(b)
	}
	return out
}

// config makes a directory with a copy of the design platform under platform/
// and a laiki.yaml naming it as the platform source (lines 1-4) followed by
// the team sources; it returns the directory.
func config(t *testing.T, teams ...string) string {
	t.Helper()
	return configWith(t, exampleFiles(t, "platform"), teams...)
}

// configWith is config with the given platform files instead of the examples.
func configWith(t *testing.T, platform map[string]string, teams ...string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, platform)
	write(t, dir, map[string]string{"laiki.yaml": "sources:\n  - name: platform\n    path: platform\n    role: platform\n" + strings.Join(teams, "")})
	return dir
}

// team is a laiki.yaml entry of three lines for a team source from Git,
// allowed the namespace ShinyProxy.
func team(name, gitSpec string) string {
	return fmt.Sprintf("  - name: %s\n    git: %s\n    allow: {target-namespaces: [ShinyProxy]}\n", name, gitSpec)
}

// app is a ShinyProxyApp bound to the example ShinyProxy target; its id is on
// line 6 and its image on line 7.
func app(id string) string {
	return "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: ShinyProxy\n  target-namespace: ShinyProxy\nlaiki-spec:\n  id: " + id +
		"\n  container-image: registry.example.com/team/" + id + ":1\n"
}

// tree lists the files under dir with their sizes: to tell whether a run
// changed a cached repository.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %d\n", strings.TrimPrefix(p, dir), info.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// grepTree fails the test if any file under dir contains secret.
func grepTree(t *testing.T, dir, secret string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
				t.Errorf("%s holds the token", p)
			}
		}
		return nil
	})
}

func itoa(i int) string { return fmt.Sprint(i) }
