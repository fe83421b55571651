package e2e

import (
	"github.com/laiki-platform/laiki/test/gittest"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Scenario 1: the platform from a local path, the team's apps from Git over
// each transport, with and without git.dir. Everything is accepted, the
// revision is the repository's HEAD and files are named by their path in the
// repository.
func TestGitTransports(t *testing.T) {
	root := t.TempDir()
	bare, work := gitRepo(t, root, "team", exampleFiles(t, "apps"))
	head := git(t, work, "rev-parse", "HEAD")
	const token = "tok-7f3a9c1e5b2d"
	daemon, _ := gitDaemon(t, root)
	srv := gitHTTP(t, root, token)
	transports := []struct{ name, url, auth string }{
		{"file", "file://" + bare, ""},
		{"daemon", daemon + "/team.git", ""},
		{"http", srv.URL + "/team.git", ", auth: {token-env: TEAM_TOKEN}"},
	}
	for _, tr := range transports {
		for _, sub := range []string{"", "apps/"} {
			name := tr.name
			spec := "{url: " + tr.url + ", ref: main" + tr.auth + "}"
			if sub != "" {
				name += " with dir"
				spec = "{url: " + tr.url + ", ref: main, dir: " + sub + tr.auth + "}"
			}
			t.Run(name, func(t *testing.T) {
				before := srv.Authorized.Load()
				dir := config(t, team("team-a", spec))
				r := check(t, dir, t.TempDir(), "json", "TEAM_TOKEN="+token)
				rep := parseReport(t, r)
				if r.code != 0 {
					t.Fatalf("exit %d, want 0:%s\n%s", r.code, rep.describe(), r.stderr)
				}
				if rev, failed := rep.source("team-a"); failed || rev != head {
					t.Errorf("team-a: revision %q (failed %v), want git rev-parse HEAD = %s", rev, failed, head)
				}
				ids, files := rep.ids("team-a")
				if !slices.Equal(ids, []string{"my-repository-name", "shinyproxy-demo"}) ||
					!slices.Equal(files, []string{"apps/ecr-repository.yaml", "apps/shinyproxy-demo.yaml"}) {
					t.Errorf("team-a resources %v from %v, want both example apps from apps/ (paths in the repository)", ids, files)
				}
				if !rep.accepted("shinyproxy-demo") || !rep.accepted("my-repository-name") {
					t.Errorf("the team's resources must be accepted: %+v", rep.Resources)
				}
				if rep.Summary.Rejected != 0 || rep.Summary.Errors != 0 || rep.Summary.Accepted != 2 {
					t.Errorf("summary %+v", rep.Summary)
				}
				// The example image has upper case letters: a warning at the
				// file's path in the repository, never in the cache.
				rep.find(t, want{"warn", "laiki.governance.baseline", "apps/shinyproxy-demo.yaml", 7, "team-a", "upper case"})
				// The local platform's files are named as laiki.yaml names them.
				rep.find(t, want{"warn", "", "platform/crane.yaml", 8, "platform", "namespace ShinyProxy"})
				if tr.name == "http" && srv.Authorized.Load() == before {
					t.Error("the HTTP server saw no authorized request")
				}
			})
		}
	}
}

// Transport (c): the token named by auth.token-env (or token-file) opens the
// HTTP server; without it, or with a wrong one, that one source fails and the
// others still load. The token never shows, whatever the output format.
func TestGitHTTPToken(t *testing.T) {
	root := t.TempDir()
	gitRepo(t, root, "team", exampleFiles(t, "apps"))
	const token = "tok-1e0c5a7d9b3f"
	srv := gitHTTP(t, root, token)
	url := srv.URL + "/team.git"
	// team-a (line 5) from HTTP; team-b (line 8) from file:// with another app.
	gitRepo(t, root, "other", map[string]string{"apps/b.yaml": app("b")})
	other := "{url: file://" + filepath.Join(root, "other.git") + ", ref: main, dir: apps}"
	formats := []string{"json", "text", "sarif", "github", "junit"}
	noToken := func(t *testing.T, format string, r result, cache string) {
		t.Helper()
		if strings.Contains(r.stdout, token) || strings.Contains(r.stderr, token) {
			t.Errorf("-o %s shows the token:\nstdout:\n%s\nstderr:\n%s", format, r.stdout, r.stderr)
		}
		grepTree(t, cache, token)
	}

	t.Run("right token", func(t *testing.T) {
		dir := config(t, team("team-a", "{url: "+url+", ref: main, auth: {token-env: TEAM_TOKEN}}"), team("team-b", other))
		for _, format := range formats {
			cache := t.TempDir()
			r := check(t, dir, cache, format, "TEAM_TOKEN="+token)
			if r.code != 0 {
				t.Errorf("-o %s: exit %d\n%s%s", format, r.code, r.stdout, r.stderr)
			}
			noToken(t, format, r, cache)
		}
		rep := checkJSON(t, dir, t.TempDir(), 0, "TEAM_TOKEN="+token)
		if !rep.accepted("shinyproxy-demo") || !rep.accepted("b") {
			t.Errorf("both sources' apps must be accepted: %+v", rep.Resources)
		}
	})

	t.Run("token file", func(t *testing.T) {
		dir := config(t, team("team-a", "{url: "+url+", ref: main, auth: {token-file: secrets/team.token, username: ci}}"))
		write(t, dir, map[string]string{"secrets/team.token": token + "\n"})
		rep := checkJSON(t, dir, t.TempDir(), 0)
		if _, failed := rep.source("team-a"); failed || !rep.accepted("shinyproxy-demo") {
			t.Errorf("the token from the file must open the server:%s", rep.describe())
		}
	})

	t.Run("credentials in the URL", func(t *testing.T) {
		// laiki.yaml is committed: a token written into it is refused, and
		// the refusal does not repeat it.
		u := strings.Replace(url, "http://", "http://laiki:"+token+"@", 1)
		dir := config(t, team("team-a", "{url: "+u+", ref: main}"))
		for _, format := range formats {
			r := check(t, dir, t.TempDir(), format)
			if r.code != 2 || !strings.Contains(r.stderr, "credentials") {
				t.Errorf("-o %s: exit %d, want 2 and a message about credentials: %s", format, r.code, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, token) {
				t.Errorf("-o %s repeats the token:\n%s%s", format, r.stdout, r.stderr)
			}
		}
	})

	bad := []struct {
		name string
		auth string
		env  []string
		msg  string
	}{
		{"wrong token", ", auth: {token-env: TEAM_TOKEN}", []string{"TEAM_TOKEN=wrong-" + token}, "auth"},
		{"token variable not set", ", auth: {token-env: TEAM_TOKEN}", nil, "TEAM_TOKEN is not set"},
		{"token variable empty", ", auth: {token-env: TEAM_TOKEN}", []string{"TEAM_TOKEN="}, "TEAM_TOKEN is not set"},
		{"no auth", "", []string{"TEAM_TOKEN=" + token}, "auth"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			dir := config(t, team("team-a", "{url: "+url+", ref: main"+c.auth+"}"), team("team-b", other))
			for _, format := range formats {
				cache := t.TempDir()
				r := check(t, dir, cache, format, c.env...)
				if r.code != 2 {
					t.Errorf("-o %s: exit %d, want 2 (a source could not be read)\n%s%s", format, r.code, r.stdout, r.stderr)
				}
				noToken(t, format, r, cache)
			}
			rep := checkJSON(t, dir, t.TempDir(), 2, c.env...)
			f := rep.find(t, want{"error", "laiki/source", "laiki.yaml", 5, "team-a", "source team-a"})
			if !strings.Contains(strings.ToLower(f.Message), strings.ToLower(c.msg)) {
				t.Errorf("the message should say what is wrong (%q): %s", c.msg, f.Message)
			}
			if n := len(rep.where("error", "")); n != 1 {
				t.Errorf("want the one error about team-a, got %d:%s", n, rep.describe())
			}
			if _, failed := rep.source("team-a"); !failed {
				t.Error("team-a must be marked failed")
			}
			if _, failed := rep.source("team-b"); failed || !rep.accepted("b") {
				t.Errorf("team-b must still load and its app be judged: %+v", rep.Resources)
			}
		})
	}
	if srv.Denied.Load() == 0 {
		t.Error("the HTTP server never refused a request: the auth check did not run")
	}
}

// Scenario 2: git.ref names a branch, a tag (annotated or lightweight), a
// full ref name or a commit; the files and revision are those of that commit.
func TestGitRefs(t *testing.T) {
	root := t.TempDir()
	_, work := gitRepo(t, root, "team", map[string]string{"laiki/apps/one.yaml": app("one"), "README.md": "team a\n"})
	c1 := git(t, work, "rev-parse", "HEAD")
	git(t, work, "tag", "-a", "v1", "-m", "annotated")
	git(t, work, "tag", "light")
	git(t, work, "branch", "release")
	c2 := commit(t, work, map[string]string{"laiki/apps/two.yaml": app("two")}, "second")
	c3 := commit(t, work, map[string]string{"laiki/apps/three.yaml": app("three")}, "third")
	git(t, work, "push", "-q", "origin", "release", "v1", "light")
	if tagObj := git(t, work, "rev-parse", "v1"); tagObj == c1 {
		t.Fatal("v1 must be an annotated tag (a tag object)")
	}
	if out := git(t, root, "--git-dir", filepath.Join(root, "team.git"), "for-each-ref", "--points-at", c2); out != "" {
		t.Fatalf("no ref may point at the second commit: %s", out)
	}

	daemon, _ := gitDaemon(t, root)
	const token = "tok-refs"
	srv := gitHTTP(t, root, token)
	urls := map[string]string{
		"file":   "file://" + filepath.Join(root, "team.git"),
		"daemon": daemon + "/team.git",
		"http":   srv.URL + "/team.git",
	}
	cases := []struct {
		name, ref string
		rev       string
		ids       []string
	}{
		{"branch main", "main", c3, []string{"one", "three", "two"}},
		{"other branch", "release", c1, []string{"one"}},
		{"annotated tag", "v1", c1, []string{"one"}},
		{"lightweight tag", "light", c1, []string{"one"}},
		{"full ref name", "refs/tags/v1", c1, []string{"one"}},
		{"HEAD", "HEAD", c3, []string{"one", "three", "two"}},
		{"commit no ref points at", c2, c2, []string{"one", "two"}},
		{"tagged commit", c1, c1, []string{"one"}},
	}
	for _, transport := range []string{"file", "daemon", "http"} {
		for _, c := range cases {
			t.Run(transport+"/"+c.name, func(t *testing.T) {
				auth := ""
				if transport == "http" {
					auth = ", auth: {token-env: TEAM_TOKEN}"
				}
				dir := config(t, team("team-a", "{url: "+urls[transport]+", ref: "+c.ref+", dir: laiki/"+auth+"}"))
				rep := checkJSON(t, dir, t.TempDir(), 0, "TEAM_TOKEN="+token)
				if rev, failed := rep.source("team-a"); failed || rev != c.rev {
					t.Errorf("revision %q (failed %v), want %s:%s", rev, failed, c.rev, rep.describe())
				}
				ids, files := rep.ids("team-a")
				if !slices.Equal(ids, c.ids) {
					t.Errorf("ids %v, want %v", ids, c.ids)
				}
				for _, f := range files {
					if !strings.HasPrefix(f, "laiki/apps/") {
						t.Errorf("file %s: want the path in the repository, laiki/apps/...", f)
					}
				}
			})
		}
	}

	// One cache for every ref in turn, as when laiki.yaml changes its ref or
	// two sources read two refs of one repository: each run must still read
	// the commit its ref names.
	for _, transport := range []string{"file", "daemon"} {
		t.Run(transport+"/one cache, refs in turn", func(t *testing.T) {
			cache := t.TempDir()
			for _, c := range []struct {
				ref, rev string
				ids      []string
			}{
				{"main", c3, []string{"one", "three", "two"}},
				{"v1", c1, []string{"one"}},
				{c2, c2, []string{"one", "two"}},
				{"main", c3, []string{"one", "three", "two"}},
			} {
				dir := config(t, team("team-a", "{url: "+urls[transport]+", ref: "+c.ref+", dir: laiki}"))
				rep := checkJSON(t, dir, cache, 0)
				rev, failed := rep.source("team-a")
				ids, _ := rep.ids("team-a")
				if failed || rev != c.rev || !slices.Equal(ids, c.ids) {
					shallow, _ := filepath.Glob(filepath.Join(cache, "*", "shallow"))
					t.Errorf("ref %s after the others in the same cache: revision %q (failed %v), ids %v; want %s, %v (shallow cache files: %v):%s",
						c.ref, rev, failed, ids, c.rev, c.ids, shallow, rep.describe())
				}
			}
		})
	}
}

// Scenario 3: a second run with the same cache fetches a new commit into the
// same cached repository; a run with nothing new downloads nothing.
func TestGitCache(t *testing.T) {
	root := t.TempDir()
	_, work := gitRepo(t, root, "team", map[string]string{"apps/one.yaml": app("one")})
	rev1 := git(t, work, "rev-parse", "HEAD")
	daemon, _ := gitDaemon(t, root)
	cache := t.TempDir()
	dir := config(t, team("team-a", "{url: "+daemon+"/team.git, ref: main}"))

	rep := checkJSON(t, dir, cache, 0)
	if rev, failed := rep.source("team-a"); failed || rev != rev1 {
		t.Fatalf("first run read %q (failed %v), want %s", rev, failed, rev1)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("want one cached repository under --cache-dir, got %v", entries)
	}
	cached := filepath.Join(cache, entries[0].Name())
	if out := git(t, cached, "rev-parse", "--is-bare-repository"); out != "true" {
		t.Errorf("the cache must be a bare repository: %s", out)
	}
	before := tree(t, cached)

	// Nothing new: the same revision, and the cached repository unchanged.
	rep = checkJSON(t, dir, cache, 0)
	if rev, failed := rep.source("team-a"); failed || rev != rev1 || !rep.accepted("one") {
		t.Errorf("unchanged run read %q (failed %v)", rev, failed)
	}
	if after := tree(t, cached); after != before {
		t.Errorf("a run with nothing new changed the cached repository:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A new commit that adds one app and removes the other.
	rev2 := commit(t, work, map[string]string{"apps/two.yaml": app("two")}, "second", "apps/one.yaml")
	rep = checkJSON(t, dir, cache, 0)
	if rev, failed := rep.source("team-a"); failed || rev != rev2 || rev == rev1 {
		t.Errorf("second run read %q (failed %v), want the new commit %s", rev, failed, rev2)
	}
	if ids, _ := rep.ids("team-a"); !slices.Equal(ids, []string{"two"}) {
		t.Errorf("ids %v: want the new commit's files only", ids)
	}
	again, _ := os.ReadDir(cache)
	if len(again) != 1 || again[0].Name() != entries[0].Name() {
		t.Errorf("the cached repository must be reused: %v then %v", entries, again)
	}
	if out := git(t, root, "--git-dir", cached, "cat-file", "-t", rev2); out != "commit" {
		t.Errorf("the new commit must be in the cached repository: %s", out)
	}

	// A cache left broken: the next run starts it afresh.
	if err := os.WriteFile(filepath.Join(cached, "HEAD"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = checkJSON(t, dir, cache, 0)
	if rev, failed := rep.source("team-a"); failed || rev != rev2 {
		t.Errorf("after a broken cache: %q, failed %v", rev, failed)
	}
}

// The cache is what saves a download when the server is back: a run while
// the server is down reports the source and must not throw the cache away.
func TestGitCacheSurvivesOutage(t *testing.T) {
	root := t.TempDir()
	_, work := gitRepo(t, root, "team", map[string]string{"apps/one.yaml": app("one")})
	rev := git(t, work, "rev-parse", "HEAD")
	daemon, stop := gitDaemon(t, root)
	cache := t.TempDir()
	dir := config(t, team("team-a", "{url: "+daemon+"/team.git, ref: main}"))
	checkJSON(t, dir, cache, 0)
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("want one cached repository, got %v", entries)
	}
	cached := filepath.Join(cache, entries[0].Name())

	stop()
	rep := checkJSON(t, dir, cache, 2)
	rep.find(t, want{"error", "laiki/source", "laiki.yaml", 5, "team-a", "could not be read"})
	if _, failed := rep.source("platform"); failed {
		t.Error("the platform must still load")
	}
	if err := gitCmd(root, "--git-dir", cached, "cat-file", "-e", rev+"^{commit}").Run(); err != nil {
		t.Errorf("the run while the server was down threw away the cached commit %s (%v); cache now:\n%s", rev, err, tree(t, cached))
	}
}

// Scenario 4: a ref that does not exist, a server that does not answer, a
// repository or directory that is not there: each is an error for that source
// only, at its entry in laiki.yaml; the other source loads and is judged.
func TestGitSourceFailures(t *testing.T) {
	root := t.TempDir()
	bare, _ := gitRepo(t, root, "team", map[string]string{"apps/one.yaml": app("one")})
	_, _ = gitRepo(t, root, "good", map[string]string{"apps/good.yaml": app("good")})
	daemon, _ := gitDaemon(t, root)
	dir := config(t,
		team("bad-ref", "{url: file://"+bare+", ref: no-such-branch}"),  // line 5
		team("unreachable", "{url: "+closedURL(t)+"}"),                  // line 8
		team("bad-ref-daemon", "{url: "+daemon+"/team.git, ref: nope}"), // line 11
		team("no-repo", "{url: "+daemon+"/missing.git}"),                // line 14
		team("no-dir", "{url: file://"+bare+", dir: not/here}"),         // line 17
		team("good", "{url: "+daemon+"/good.git, ref: main}"),           // line 20
	)
	// Sources that cannot be read are a fault (exit 2), not the good
	// team's: its app is judged as ever.
	rep := checkJSON(t, dir, t.TempDir(), 2)
	failing := []want{
		{"error", "laiki/source", "laiki.yaml", 5, "bad-ref", "no-such-branch"},
		{"error", "laiki/source", "laiki.yaml", 8, "unreachable", "source unreachable"},
		{"error", "laiki/source", "laiki.yaml", 11, "bad-ref-daemon", `"nope"`},
		{"error", "laiki/source", "laiki.yaml", 14, "no-repo", "source no-repo"},
		{"error", "laiki/source", "laiki.yaml", 17, "no-dir", "not/here"},
	}
	for _, w := range failing {
		rep.find(t, w)
		if _, failed := rep.source(w.source); !failed {
			t.Errorf("source %s must be marked failed", w.source)
		}
	}
	if errs := rep.where("error", ""); len(errs) != len(failing) {
		t.Errorf("want exactly one error per failing source, got %d:%s", len(errs), rep.describe())
	}
	if rev, failed := rep.source("good"); failed || rev == "" {
		t.Errorf("the good source must load (revision %q, failed %v)", rev, failed)
	}
	if !rep.accepted("good") || rep.Summary.Accepted != 1 {
		t.Errorf("the good source's app must be judged and accepted: %+v", rep.Resources)
	}
	if rep.accepted("one") {
		t.Error("nothing may be read from a failing source")
	}
}

// Scenario 5: a team source may declare only its resources: a target, a
// pre-processor, a Rego file, a type or a namespace it is not allowed are each
// rejected at the file and line in the repository.
func TestTeamSourceLimits(t *testing.T) {
	root := t.TempDir()
	platform, _ := os.ReadFile(filepath.Join(repo, design, "platform", "shinyproxy.yaml"))
	defaults, _ := os.ReadFile(filepath.Join(repo, design, "platform", "app-defaults.yaml"))
	ecr, _ := os.ReadFile(filepath.Join(repo, design, "apps", "ecr-repository.yaml"))
	const head = "# brought by the team\n\n" // documents start on line 3
	bare, _ := gitRepo(t, root, "team", map[string]string{
		"ops/target.yaml":          head + strings.Replace(string(platform), "name: ShinyProxy\n", "name: Mine\n", 1),
		"ops/defaults.yaml":        head + strings.Replace(string(defaults), "name: ShinyProxyAppDefaults", "name: mine", 1),
		"ops/policies/mine.rego":   "package laiki.governance.mine\n\ndeny contains \"the team's own policy ran\" if true\n",
		"apps/elsewhere.yaml":      strings.Replace(app("elsewhere"), "target-namespace: ShinyProxy", "target-namespace: Other", 1),
		"apps/registry.yaml":       head + string(ecr),
		"apps/ok.yaml":             app("ok"),
		"apps/on-team-target.yaml": strings.Replace(app("on-mine"), "target-name: ShinyProxy", "target-name: Mine", 1),
	})
	dir := config(t, "  - name: team-a\n    git: {url: file://"+bare+"}\n"+
		"    allow: {resource-types: [ShinyProxyApp], target-namespaces: [ShinyProxy]}\n")
	rep := checkJSON(t, dir, t.TempDir(), 1)
	rep.find(t, want{"error", "laiki/access", "ops/target.yaml", 3, "team-a", "may not declare a target"})
	rep.find(t, want{"error", "laiki/access", "ops/defaults.yaml", 3, "team-a", "may not declare a pre-processor"})
	rep.find(t, want{"error", "laiki/access", "ops/policies/mine.rego", 1, "team-a", "may not bring Rego policies"})
	rep.find(t, want{"error", "laiki/access", "apps/elsewhere.yaml", 4, "team-a", "may not bind resources to namespace Other"})
	rep.find(t, want{"error", "laiki/access", "apps/registry.yaml", 4, "team-a", "may not declare AwsEcrRepository"})
	// The rejected target is no target: an app cannot bind to it.
	rep.find(t, want{"error", "", "apps/on-team-target.yaml", -1, "team-a", "Mine"})
	if rep.accepted("on-mine") || rep.accepted("elsewhere") || rep.accepted("my-repository-name") {
		t.Errorf("rejected resources accepted: %+v", rep.Resources)
	}
	if !rep.accepted("ok") {
		t.Errorf("the team's own app must still be accepted (the team's Rego must not run):%s", rep.describe())
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "the team's own policy ran") || f.Policy == "laiki.governance.mine" {
			t.Errorf("the team's Rego policy ran: %s", f)
		}
	}
}

// Scenario 6: bad input from Git is reported at its file and line, and never
// crashes Laiki.
func TestBadInputFromGit(t *testing.T) {
	root := t.TempDir()
	bareA, _ := gitRepo(t, root, "a", map[string]string{
		"broken.yaml":  "laiki-metadata:\n  resource-type: ShinyProxyApp\n  target-name: ShinyProxy\n  target-namespace: ShinyProxy\nlaiki-spec:\n  id: [unclosed\n",
		"type.yaml":    app("typed") + "  container-memory-limit: [1]\n",
		"dup.yaml":     app("dup"),
		"nowhere.yaml": strings.Replace(app("lost"), "target-name: ShinyProxy", "target-name: Nope", 1),
		"multi.yaml":   app("first-of-many") + "---\n" + app("second-of-many") + "---\nlaiki-metadata: [x\n",
		"big.yaml":     "# " + strings.Repeat("x", 1<<20) + "\n",
		"fine.yaml":    app("fine"),
	})
	bareB, _ := gitRepo(t, root, "b", map[string]string{"apps/dup.yaml": "# the same id as team a's\n" + app("dup")})
	dir := config(t, team("team-a", "{url: file://"+bareA+"}"), team("team-b", "{url: file://"+bareB+"}"))
	rep := checkJSON(t, dir, t.TempDir(), 1)
	rep.find(t, want{"error", "laiki/document", "broken.yaml", 6, "team-a", "invalid YAML"})
	rep.find(t, want{"error", "", "type.yaml", 8, "team-a", "container-memory-limit"})
	rep.find(t, want{"error", "", "dup.yaml", 1, "team-a", "apps/dup.yaml:2"})
	rep.find(t, want{"error", "", "apps/dup.yaml", 2, "team-b", "dup.yaml:1"})
	rep.find(t, want{"error", "", "nowhere.yaml", 3, "team-a", "no target Nope in namespace ShinyProxy"})
	rep.find(t, want{"error", "laiki/document", "multi.yaml", 17, "team-a", "invalid YAML"})
	rep.find(t, want{"error", "laiki/source", "big.yaml", -1, "team-a", "more than"})
	if rep.accepted("typed") || rep.accepted("dup") || rep.accepted("lost") {
		t.Errorf("bad resources accepted: %+v", rep.Resources)
	}
	if !rep.accepted("fine") {
		t.Error("a good file next to bad ones must still be accepted")
	}
	// The same run in every format: never a crash, always exit 1.
	for _, format := range []string{"text", "sarif", "github", "junit"} {
		if r := check(t, dir, t.TempDir(), format); r.code != 1 {
			t.Errorf("-o %s: exit %d\n%s", format, r.code, r.stderr)
		}
	}
}

// Scenario 8: symbolic links in a Git source are skipped with a notice, never
// followed, whether they point outside the repository or inside it.
func TestGitSymlinks(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"outside.yaml": app("outside")})
	_, work := gitRepo(t, root, "team", map[string]string{"apps/ok.yaml": app("ok")})
	for link, target := range map[string]string{
		"evil.yaml":        "/etc/passwd",
		"apps/up.yaml":     "../../outside.yaml",
		"apps/inside.yaml": "ok.yaml",
	} {
		if err := os.Symlink(target, filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, work, nil, "links")
	if out := git(t, work, "ls-tree", "-r", "HEAD", "evil.yaml"); !strings.HasPrefix(out, "120000 ") {
		t.Fatalf("evil.yaml must be committed as a symbolic link: %s", out)
	}
	for _, sub := range []string{"", "apps"} {
		t.Run("dir="+sub, func(t *testing.T) {
			dir := config(t, team("team-a", "{url: file://"+filepath.Join(root, "team.git")+", dir: '"+sub+"'}"))
			r := check(t, dir, t.TempDir(), "json")
			rep := parseReport(t, r)
			if r.code != 0 {
				t.Errorf("exit %d: a skipped link is a notice, not an error:%s", r.code, rep.describe())
			}
			links := []string{"apps/inside.yaml", "apps/up.yaml"}
			if sub == "" {
				links = append(links, "evil.yaml")
			}
			for _, l := range links {
				rep.find(t, want{"notice", "laiki/source", l, -1, "team-a", "symbolic link"})
			}
			if ids, _ := rep.ids("team-a"); !slices.Equal(ids, []string{"ok"}) {
				t.Errorf("only the regular file may be read, got %v", ids)
			}
			if strings.Contains(r.stdout, "root:") || strings.Contains(r.stdout, "/bin/") {
				t.Errorf("the link to /etc/passwd was followed:\n%s", r.stdout)
			}
		})
	}
}

// A token written into a Git URL in any of Git's forms (scp-like
// user:token@host:path, ssh://user:token@, a query string, a fragment) is
// refused at its line in laiki.yaml and never repeated; the cache never
// stores a remote's URL.
func TestTokenInGitURLRefused(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a"
	for _, url := range []string{
		"'oauth2:" + token + "@git.example.com:team/apps.git'",
		"'ssh://git:" + token + "@git.example.com/team/apps.git'",
		"'https://git.example.com/team/apps.git?private_token=" + token + "'",
		"'https://git.example.com/team/apps.git#" + token + "'",
	} {
		dir := config(t, team("team-a", "{url: "+url+", ref: main}"))
		r := check(t, dir, t.TempDir(), "text")
		if r.code != 2 || !strings.Contains(r.stderr, "laiki.yaml:5") || !strings.Contains(r.stderr, "carries credentials") {
			t.Errorf("%s: exit %d, want 2 and the line\n%s%s", url, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Errorf("%s: the token is shown:\n%s%s", url, r.stdout, r.stderr)
		}
	}
	// A fetched repository's cache holds no URL.
	root := t.TempDir()
	gitRepo(t, root, "team", exampleFiles(t, "apps"))
	marker := "team.git"
	dir := config(t, team("team-a", "{url: file://"+filepath.Join(root, marker)+", ref: main}"))
	cache := t.TempDir()
	if r := check(t, dir, cache, "json"); r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	grepTree(t, cache, root)
}

// A Git server that accepts the connection and never answers is cut at the
// source's timeout: that source fails alone, at its line, and the others
// are read and judged.
func TestHangingGitServerCutAtTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	root := t.TempDir()
	gitRepo(t, root, "other", map[string]string{"apps/b.yaml": app("b")})
	hang := "{url: 'http://" + ln.Addr().String() + "/team.git', ref: main}\n    timeout: 2s"
	other := "{url: file://" + filepath.Join(root, "other.git") + ", ref: main, dir: apps}"
	dir := config(t, team("team-a", hang), team("team-b", other))
	start := time.Now()
	r := check(t, dir, t.TempDir(), "json")
	took := time.Since(start)
	rep := parseReport(t, r)
	if took > 20*time.Second {
		t.Errorf("the check took %s: the hanging source was not cut at its timeout", took)
	}
	if !strings.Contains(r.stdout, "no answer within 2s") {
		t.Errorf("the hanging source must fail with its timeout:\n%s", rep.describe())
	}
	if !rep.accepted("b") {
		t.Errorf("the other source must be read and judged:\n%s", rep.describe())
	}
}

// The Git cache stays bounded over a long life: every fetch adds a pack,
// and when they pile up they are packed into one.
func TestGitCacheRepacked(t *testing.T) {
	root := t.TempDir()
	bare, work := gitRepo(t, root, "team", exampleFiles(t, "apps"))
	dir := config(t, team("team-a", "{url: file://"+bare+", ref: main}"))
	cache := t.TempDir()
	packs := func() int {
		n := 0
		_ = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".pack") {
				n++
			}
			return nil
		})
		return n
	}
	most := 0
	for i := 0; i < 24; i++ {
		gittest.Commit(t, work, map[string]string{"notes.txt": strings.Repeat("x", i+1)}, "change "+itoa(i))
		gittest.Git(t, work, "push", "-q", "origin", "main")
		if r := check(t, dir, cache, "json"); r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		most = max(most, packs())
	}
	if most > 17 {
		t.Errorf("the cache piled up %d packs; they must be packed into one past 16", most)
	}
}
