package e2e

import (
	"strings"
	"testing"
)

// pathsDir makes a directory with a copy of the design platform under
// platform/ and apps/priv.yaml, an app that asks for a privileged container
// (container-privileged on line 8). The example's app defaults override
// container-privileged to false, which would settle the matter before the
// baseline looks: the copy leaves that override out.
func pathsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	platform := exampleFiles(t, "platform")
	defaults := platform["platform/app-defaults.yaml"]
	platform["platform/app-defaults.yaml"] = strings.Replace(defaults, "  override:\n    container-privileged: false\n", "", 1)
	if platform["platform/app-defaults.yaml"] == defaults {
		t.Fatalf(design+"/platform/app-defaults.yaml no longer overrides container-privileged as this test expects:\n%s", defaults)
	}
	write(t, dir, platform)
	write(t, dir, map[string]string{"apps/priv.yaml": app("priv") + "  container-privileged: true\n"})
	return dir
}

// --platform checks the apps as a pull request is checked: the baseline
// applies to them, and the denial is where the pull request would show it.
func TestCheckPlatformFlag(t *testing.T) {
	dir := pathsDir(t)
	r := laikiRun(t, dir, nil, "check", "--platform", "platform", "apps")
	if r.code != 1 || !strings.Contains(r.stdout, "apps/priv.yaml:8:3: deny: container-privileged: privileged containers") {
		t.Errorf("exit %d, want 1 and the denial\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := "sources: platform (path platform, role platform), apps (path apps, role team)\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("the text must name each path's role (%q):\n%s", want, r.stdout)
	}
	if strings.Contains(r.stdout, "all paths were read as platform sources") {
		t.Errorf("no hint with --platform:\n%s", r.stdout)
	}

	rep := parseReport(t, laikiRun(t, dir, nil, "check", "--platform", "platform", "apps", "-o", "json"))
	rep.find(t, want{severity: "deny", policy: "laiki.governance.baseline", file: "apps/priv.yaml", line: 8, source: "apps", msg: "privileged"})
	if len(rep.Sources) != 2 || rep.Sources[0].Role != "platform" || rep.Sources[1].Role != "team" {
		t.Errorf("sources %+v", rep.Sources)
	}

	// render and explain read the same flag, and give the same verdict.
	if r := laikiRun(t, dir, nil, "render", "--platform", "platform", "apps"); r.code != 1 || !strings.Contains(r.stderr, "apps/priv.yaml:8:3: deny:") {
		t.Errorf("render: exit %d\n%s", r.code, r.stderr)
	}
	if r := laikiRun(t, dir, nil, "explain", "--platform", "platform", "apps", "ShinyProxy/priv"); r.code != 1 || !strings.Contains(r.stdout, "rejected") {
		t.Errorf("explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Without --platform, every path is a platform source, as before: the app
// is accepted, and the output says why.
func TestCheckPlainPathsSayTheirRole(t *testing.T) {
	dir := pathsDir(t)
	r := laikiRun(t, dir, nil, "check", "platform", "apps")
	if r.code != 0 {
		t.Errorf("exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"sources: platform (path platform, role platform), apps (path apps, role platform)\n",
		"all paths were read as platform sources: the team rules (access control, the security baseline's limits on team apps) were not applied; use --platform DIR",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], "5 documents: ") {
		t.Errorf("the summary stays the last line:\n%s", r.stdout)
	}
}

// The platform's laiki.yaml, when its directory has one, tunes the team
// rules as it does for the pull-request check.
func TestCheckPlatformPolicyData(t *testing.T) {
	dir := pathsDir(t)
	write(t, dir, map[string]string{"platform/laiki.yaml": "sources:\n  - {name: platform, path: ., role: platform}\npolicy-data:\n  baseline:\n    allowed-keys: [container-privileged]\n"})
	r := laikiRun(t, dir, nil, "check", "--platform", "platform", "apps")
	if r.code != 0 || !strings.Contains(r.stdout, "platform (path platform, role platform, policy-data from platform/laiki.yaml)") {
		t.Errorf("exit %d, want 0 and where the policy-data came from\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckPlatformFlagErrors(t *testing.T) {
	dir := pathsDir(t)
	write(t, dir, map[string]string{"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n"})
	for name, c := range map[string]struct {
		args []string
		msg  string
	}{
		"with --config":  {[]string{"check", "--platform", "platform", "--config", "laiki.yaml", "apps"}, "not both"},
		"no other path":  {[]string{"check", "--platform", "platform"}, "paths of the apps"},
		"apps inside":    {[]string{"check", "--platform", ".", "apps"}, "inside"},
		"no platform":    {[]string{"check", "--platform", "apps", "apps/priv.yaml"}, "inside"},
		"not a platform": {[]string{"check", "--platform", "apps", "platform"}, "no targets or pre-processors"},
	} {
		r := laikiRun(t, dir, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%s: exit %d, want 2 and %q\n%s", name, r.code, c.msg, r.stderr)
		}
	}
}
