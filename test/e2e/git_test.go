package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The team's apps come from Git over each transport; the platform from a
// local directory.
func TestGitTransports(t *testing.T) {
	root := t.TempDir()
	bare, work := gitRepo(t, root, "team", exampleFiles(t, "apps"))
	head := git(t, work, "rev-parse", "HEAD")
	const token = "s3cret-t0ken"
	transports := map[string]string{
		"file":   "file://" + bare,
		"daemon": gitDaemon(t, root) + "/team.git",
		"http":   gitHTTP(t, root, token) + "/team.git",
	}
	for name, url := range transports {
		t.Run(name, func(t *testing.T) {
			spec := "{url: " + url + ", ref: main}"
			if name == "http" {
				spec = "{url: " + url + ", ref: main, auth: {token-env: TEAM_TOKEN}}"
			}
			dir := config(t, team("team-a", spec))
			r := laikiRun(t, dir, []string{"TEAM_TOKEN=" + token}, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir())
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			rep := parseReport(t, r)
			if rev, failed := rep.source("team-a"); failed || rev != head {
				t.Errorf("revision %q (failed %v), want %s", rev, failed, head)
			}
			if !rep.accepted("shinyproxy-demo") || !rep.accepted("my-repository-name") {
				t.Errorf("team resources not accepted: %+v", rep.Resources)
			}
			rep.finding(t, "warn", "apps/shinyproxy-demo.yaml", 7, "upper case")
		})
	}
	t.Run("http token is checked and never shown", func(t *testing.T) {
		dir := config(t, team("team-a", "{url: "+transports["http"]+", ref: main, auth: {token-env: TEAM_TOKEN}}")+
			team("team-b", "{url: "+transports["file"]+", ref: main, dir: apps}"))
		for _, format := range []string{"json", "text", "sarif", "github", "junit"} {
			r := laikiRun(t, dir, []string{"TEAM_TOKEN=wrong-" + token}, "check", "--config", "laiki.yaml", "-o", format, "--cache-dir", t.TempDir())
			if strings.Contains(r.stdout+r.stderr, token) {
				t.Fatalf("%s output shows the token:\n%s%s", format, r.stdout, r.stderr)
			}
			if r.code != 1 {
				t.Errorf("%s: exit %d", format, r.code)
			}
		}
		r := laikiRun(t, dir, []string{"TEAM_TOKEN=wrong"}, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir())
		rep := parseReport(t, r)
		rep.finding(t, "error", "laiki.yaml", 5, "source team-a")
		if _, failed := rep.source("team-b"); failed {
			t.Error("the other source must still load")
		}
		if !rep.accepted("shinyproxy-demo") {
			t.Error("team-b's app must still be judged")
		}
	})
}

func TestGitRefs(t *testing.T) {
	root := t.TempDir()
	bare, work := gitRepo(t, root, "team", map[string]string{"laiki/apps/one.yaml": app("one")})
	first := git(t, work, "rev-parse", "HEAD")
	git(t, work, "tag", "-a", "v1", "-m", "annotated")
	git(t, work, "tag", "light")
	commit(t, work, map[string]string{"laiki/apps/two.yaml": app("two")}, "second")
	git(t, work, "push", "-q", "origin", "v1", "light")
	cases := map[string]struct {
		ref  string
		want []string
	}{
		"branch":          {"main", []string{"one", "two"}},
		"annotated tag":   {"v1", []string{"one"}},
		"lightweight tag": {"light", []string{"one"}},
		"commit":          {first, []string{"one"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := config(t, team("team-a", "{url: file://"+bare+", ref: "+c.ref+", dir: laiki/}"))
			rep := parseReport(t, laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir()))
			var ids []string
			for _, r := range rep.Resources {
				if r.Source == "team-a" {
					ids = append(ids, r.ID)
					if !strings.HasPrefix(r.File, "laiki/apps/") {
						t.Errorf("file %s: want the path in the repository", r.File)
					}
				}
			}
			if strings.Join(ids, ",") != strings.Join(c.want, ",") {
				t.Errorf("ids %v, want %v", ids, c.want)
			}
		})
	}
}

// A second run with the same cache fetches the new commit into the same
// cached repository.
func TestGitCacheSecondRun(t *testing.T) {
	root := t.TempDir()
	bare, work := gitRepo(t, root, "team", map[string]string{"one.yaml": app("one")})
	cache := t.TempDir()
	dir := config(t, team("team-a", "{url: file://"+bare+", ref: main}"))
	rep := parseReport(t, laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", cache))
	rev1, _ := rep.source("team-a")
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("want one cached repository, got %d", len(entries))
	}
	rev2 := commit(t, work, map[string]string{"two.yaml": app("two")}, "second")
	rep = parseReport(t, laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", cache))
	if got, _ := rep.source("team-a"); got != rev2 || got == rev1 {
		t.Errorf("second run read %s, want the new commit %s", got, rev2)
	}
	if !rep.accepted("two") {
		t.Error("the new app must be read")
	}
	again, _ := os.ReadDir(cache)
	if len(again) != 1 || again[0].Name() != entries[0].Name() {
		t.Error("the cached repository must be reused")
	}
	// Corrupt the cache: the next run starts it afresh.
	_ = os.WriteFile(filepath.Join(cache, entries[0].Name(), "HEAD"), []byte("garbage"), 0o644)
	rep = parseReport(t, laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", cache))
	if got, failed := rep.source("team-a"); failed || got != rev2 {
		t.Errorf("after a corrupted cache: %s, failed %v", got, failed)
	}
}

func TestGitSourceFailures(t *testing.T) {
	root := t.TempDir()
	bare, _ := gitRepo(t, root, "team", map[string]string{"one.yaml": app("one")})
	dir := config(t, team("bad-ref", "{url: file://"+bare+", ref: no-such-branch}")+
		team("unreachable", "{url: git://127.0.0.1:"+itoa(freePort(t))+"/x.git}")+
		team("good", "{url: file://"+bare+", ref: main}"))
	r := laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir())
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	rep := parseReport(t, r)
	rep.finding(t, "error", "laiki.yaml", 5, "no-such-branch")
	rep.finding(t, "error", "laiki.yaml", 8, "source unreachable")
	if _, failed := rep.source("good"); failed || !rep.accepted("one") {
		t.Error("the good source must load and its app be judged")
	}
}

func TestTeamSourceLimits(t *testing.T) {
	root := t.TempDir()
	platform, _ := os.ReadFile(filepath.Join(repo, "examples", "platform", "shinyproxy.yaml"))
	defaults, _ := os.ReadFile(filepath.Join(repo, "examples", "platform", "app-defaults.yaml"))
	bare, _ := gitRepo(t, root, "team", map[string]string{
		"target.yaml":    strings.Replace(string(platform), "name: ShinyProxy\n", "name: Mine\n", 1),
		"pp.yaml":        strings.Replace(string(defaults), "name: ShinyProxyAppDefaults", "name: mine", 1),
		"policy.rego":    "package laiki.governance.mine\n",
		"elsewhere.yaml": strings.Replace(app("x"), "target-namespace: ShinyProxy", "target-namespace: Other", 1),
		"fine/ok.yaml":   app("ok"),
		"notlaiki.yaml":  "apiVersion: v1\nkind: ConfigMap\n",
		"evil.yaml":      "",
	})
	_ = bare
	// A symbolic link pointing outside the repository is skipped, not followed.
	work := filepath.Join(root, "team-work")
	_ = os.Remove(filepath.Join(work, "evil.yaml"))
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "evil.yaml")); err != nil {
		t.Fatal(err)
	}
	commit(t, work, nil, "link")
	dir := config(t, team("team-a", "{url: file://"+bare+", ref: main}"))
	r := laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir())
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	rep := parseReport(t, r)
	rep.finding(t, "error", "target.yaml", 1, "may not declare a target")
	rep.finding(t, "error", "pp.yaml", 1, "may not declare a pre-processor")
	rep.finding(t, "error", "policy.rego", 1, "may not bring Rego policies")
	rep.finding(t, "error", "elsewhere.yaml", 4, "may not bind resources to namespace Other")
	rep.finding(t, "notice", "notlaiki.yaml", 1, "not a Laiki document")
	rep.finding(t, "notice", "evil.yaml", -1, "symbolic link")
	if !rep.accepted("ok") {
		t.Error("the team's own app must still be accepted")
	}
	if strings.Contains(r.stdout, "root:") {
		t.Error("the link was followed")
	}
}

func TestBadInputFromGit(t *testing.T) {
	root := t.TempDir()
	bareA, _ := gitRepo(t, root, "a", map[string]string{
		"broken.yaml":  "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: ShinyProxy\n  target-namespace: ShinyProxy\nlaiki-spec:\n  id: [unclosed\n",
		"type.yaml":    app("typed") + "  container-memory-limit: [1]\n",
		"dup.yaml":     app("dup"),
		"nowhere.yaml": strings.Replace(app("lost"), "target-name: ShinyProxy", "target-name: Nope", 1),
	})
	bareB, _ := gitRepo(t, root, "b", map[string]string{"apps/dup.yaml": "# the same id as team a's\n" + app("dup")})
	dir := config(t, team("team-a", "{url: file://"+bareA+"}")+team("team-b", "{url: file://"+bareB+"}"))
	r := laikiRun(t, dir, nil, "check", "--config", "laiki.yaml", "-o", "json", "--cache-dir", t.TempDir())
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	rep := parseReport(t, r)
	rep.finding(t, "error", "broken.yaml", 6, "invalid YAML")
	rep.finding(t, "error", "type.yaml", 8, "container-memory-limit must be a Kubernetes quantity")
	rep.finding(t, "error", "dup.yaml", 1, "apps/dup.yaml:2 (source team-b)")
	rep.finding(t, "error", "apps/dup.yaml", 2, "dup.yaml:1 (source team-a)")
	rep.finding(t, "error", "nowhere.yaml", 3, "no target Nope in namespace ShinyProxy")
}

func app(id string) string {
	return "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: ShinyProxy\n  target-namespace: ShinyProxy\nlaiki-spec:\n  id: " + id +
		"\n  container-image: registry.example.com/team/" + id + ":1\n"
}

func itoa(i int) string { return fmtInt(i) }
