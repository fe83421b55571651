package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planRepo makes a Git work tree with the example platform under platform/
// and a team's apps under apps/ in one commit on main, and returns it with
// the commit.
func planRepo(t *testing.T, apps map[string]string) (dir, base string) {
	t.Helper()
	dir = t.TempDir()
	git(t, dir, "init", "-q")
	write(t, dir, exampleFiles(t, "platform"))
	write(t, dir, apps)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "base")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

// containsAll fails the test for each of wants that out lacks.
func containsAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks\n%s\nin:\n%s", what, w, out)
		}
	}
}

// The plan of a pull request: against its base, what merging it adds,
// removes and changes in the running platform, with the settings the
// platform's defaults make effective (the example's fallback memory limit
// is 512Mi), in the Markdown a pipeline posts as a comment.
func TestCheckAgainstPlan(t *testing.T) {
	dir, base := planRepo(t, map[string]string{
		"apps/demo.yaml": app("demo"),
		"apps/old.yaml":  app("old"),
		"apps/same.yaml": app("same"),
	})
	git(t, dir, "checkout", "-q", "-b", "feature")
	write(t, dir, map[string]string{
		"apps/demo.yaml": app("demo") + "  container-memory-limit: 1Gi\n",
		"apps/new.yaml":  app("new"),
	})
	git(t, dir, "rm", "-q", "apps/old.yaml")
	git(t, dir, "commit", "-q", "-am", "the pull request")
	git(t, dir, "add", "apps/new.yaml")
	git(t, dir, "commit", "-q", "-m", "and a new app")

	for _, ref := range []string{base, "main", "HEAD~2"} {
		r := laikiRun(t, dir, nil, "check", "--platform", "platform", "apps", "--against", ref, "-o", "markdown")
		if r.code != 0 {
			t.Fatalf("--against %s: exit %d, want 0\n%s%s", ref, r.code, r.stdout, r.stderr)
		}
		containsAll(t, "the summary", r.stdout,
			"<!-- laiki check -->\n## ✅ Laiki: every resource accepted\n",
			"### Plan: what merging changes in the platform\n\nCompared with `"+ref+"` (commit `"+base[:12]+"`): 1 added, 1 changed, 1 removed, 0 held, 0 rejected; 1 unchanged.\n",
			"#### ➕ Added: will run\n\n- `ShinyProxyApp ShinyProxy/ShinyProxy/new` at `apps/new.yaml:1`\n",
			"#### ✏️ Changed: will run with these settings\n\n- `ShinyProxyApp ShinyProxy/ShinyProxy/demo` at `apps/demo.yaml:1`\n\n  ```diff\n"+
				"  - laiki-spec.container-memory-limit: \"512Mi\"\n  + laiki-spec.container-memory-limit: \"1Gi\"\n  ```\n",
			"#### ➖ Removed: will stop\n\n- `ShinyProxyApp ShinyProxy/ShinyProxy/old` at `apps/old.yaml:1`\n",
		)
	}

	// Not committed yet, on a developer's machine: the checkout is what is
	// on the disk. A rejected update keeps the running version (held), and
	// the check fails as without --against.
	write(t, dir, map[string]string{"apps/same.yaml": app("same") + "  container-memory-limit: lots\n"})
	r := laikiRun(t, dir, nil, "check", "--platform", "platform", "apps", "--against", "main", "-o", "markdown")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	containsAll(t, "a rejected update", r.stdout,
		"## ❌ Laiki: 1 resource rejected",
		"| `apps/same.yaml:8` |",
		"1 added, 1 changed, 1 removed, 1 held, 0 rejected; 0 unchanged.",
		"#### ⏸️ Held: rejected, the running version stays\n\n- `ShinyProxyApp ShinyProxy/ShinyProxy/same` at `apps/same.yaml:1`\n\n  ```diff\n  + laiki-spec.container-memory-limit: \"lots\"\n",
	)

	// Without --against: the verdict and the findings, no plan.
	r = laikiRun(t, dir, nil, "check", "--platform", "platform", "apps", "-o", "markdown")
	if r.code != 1 || !strings.Contains(r.stdout, "### Findings") || strings.Contains(r.stdout, "### Plan") {
		t.Errorf("without --against: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A base Laiki cannot read is Laiki unable to run (exit 2), in the user's
// words: no plan against half a base.
func TestCheckAgainstUnknownRevision(t *testing.T) {
	dir, _ := planRepo(t, map[string]string{"apps/demo.yaml": app("demo")})
	r := laikiRun(t, dir, nil, "check", "--platform", "platform", "apps", "--against", "origin/main", "-o", "markdown")
	if r.code != 2 || !strings.Contains(r.stderr, "--against origin/main: no such revision in the repository at .") {
		t.Errorf("exit %d, want 2 and the revision named\n%s%s", r.code, r.stdout, r.stderr)
	}
	outside := t.TempDir()
	write(t, outside, exampleFiles(t, "platform"))
	write(t, outside, map[string]string{"apps/demo.yaml": app("demo")})
	r = laikiRun(t, outside, nil, "check", "--platform", "platform", "apps", "--against", "main", "-o", "markdown")
	if r.code != 2 || !strings.Contains(r.stderr, "--against main: no Git repository at . or above it") {
		t.Errorf("outside a repository: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The pipeline of docs/ci.md: the team's repository checked against the
// platform pinned at a commit (a Git source, the same on both sides), the
// team's own files compared with the pull request's base.
func TestCheckAgainstPinnedPlatform(t *testing.T) {
	root := t.TempDir()
	_, platformWork := gitRepo(t, root, "platform", exampleFiles(t, "platform"))
	pinned := git(t, platformWork, "rev-parse", "HEAD")
	url, _ := gitDaemon(t, root)

	team := filepath.Join(root, "team")
	if err := os.MkdirAll(team, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, team, "init", "-q")
	write(t, team, map[string]string{
		"laiki.ci.yaml": "sources:\n  - name: platform\n    role: platform\n    git: {url: " + url + "/platform.git, ref: " + pinned + "}\n" +
			"  - name: team-a\n    path: .\n    allow: {target-namespaces: [ShinyProxy]}\n",
		"apps/demo.yaml": app("demo"),
	})
	git(t, team, "add", "-A")
	git(t, team, "commit", "-q", "-m", "base")
	git(t, team, "checkout", "-q", "-b", "feature")
	write(t, team, map[string]string{"apps/demo.yaml": app("demo") + "  container-cpu-limit: 2\n"})
	git(t, team, "commit", "-q", "-am", "more CPU")

	r := laikiRun(t, team, nil, "check", "--config", "laiki.ci.yaml", "--cache-dir", t.TempDir(), "--against", "main", "-o", "markdown")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	containsAll(t, "the summary", r.stdout,
		"0 added, 1 changed, 0 removed, 0 held, 0 rejected; 0 unchanged.",
		"- `ShinyProxyApp ShinyProxy/ShinyProxy/demo` at `apps/demo.yaml:1`\n\n  ```diff\n  - laiki-spec.container-cpu-limit: 1\n  + laiki-spec.container-cpu-limit: 2\n  ```\n",
	)
}
