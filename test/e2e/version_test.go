package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// laiki version and --version say which laiki this is, and every report
// carries the same version (JSON, SARIF's tool, JUnit's properties).
func TestVersion(t *testing.T) {
	r := laikiRun(t, repo, nil, "version")
	v := strings.TrimSpace(strings.TrimPrefix(r.stdout, "laiki "))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "laiki ") || v == "" {
		t.Fatalf("laiki version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r2 := laikiRun(t, repo, nil, "--version"); strings.TrimSpace(r2.stdout) != "laiki "+v {
		t.Errorf("--version: %q, want %q", r2.stdout, "laiki "+v)
	}
	j := laikiRun(t, repo, nil, "check", "--config", "examples/laiki.yaml", "-o", "json")
	var rep struct {
		Version string `json:"laiki-version"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil || rep.Version != v {
		t.Errorf("json: version %q, want %q (%v)", rep.Version, v, err)
	}
	s := laikiRun(t, repo, nil, "check", "--config", "examples/laiki.yaml", "-o", "sarif")
	if !strings.Contains(s.stdout, `"version": "`+v+`"`) {
		t.Errorf("sarif: no tool version %q", v)
	}
	ju := laikiRun(t, repo, nil, "check", "--config", "examples/laiki.yaml", "-o", "junit")
	if !strings.Contains(ju.stdout, `<property name="laiki-version" value="`+v+`">`) {
		t.Errorf("junit: no version property %q:\n%s", v, ju.stdout[:min(len(ju.stdout), 600)])
	}
}

// The CI flags: --fail-on-warn fails on a warning, --quiet writes findings
// only, notices (a file that is not a Laiki document) only with -v, and
// no colours where the output is not a terminal.
func TestCheckCIFlags(t *testing.T) {
	dir := t.TempDir()
	platform := map[string]string{}
	for name, text := range exampleFiles(t, "platform") {
		platform["platform/"+name] = text
	}
	write(t, dir, platform)
	write(t, dir, map[string]string{"apps/a.yaml": app("a"), "apps/notes.yaml": "title: notes\n", "apps/.gitlab-ci.yml": "stages: [test]\n"})
	base := []string{"check", "--platform", "platform", "apps"}
	r := laikiRun(t, dir, nil, base...)
	if r.code != 0 || strings.Contains(r.stdout, "not a Laiki document") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("plain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := laikiRun(t, dir, nil, append(base, "-v")...); !strings.Contains(r.stdout, "apps/notes.yaml:1: notice: not a Laiki document") || strings.Contains(r.stdout, "gitlab-ci") {
		t.Errorf("-v must report notes.yaml as not a Laiki document, and never read .gitlab-ci.yml:\n%s", r.stdout)
	}
	if r := laikiRun(t, dir, nil, append(base, "--fail-on-warn")...); r.code != 1 {
		t.Errorf("--fail-on-warn with warnings (the example namespace's name): exit %d\n%s", r.code, r.stdout)
	}
	if r := laikiRun(t, dir, nil, append(base, "--quiet")...); strings.Contains(r.stdout, "documents:") || !strings.Contains(r.stdout, "warn:") {
		t.Errorf("--quiet: findings only:\n%s", r.stdout)
	}
}
