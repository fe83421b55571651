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
