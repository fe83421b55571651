package e2e

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pull-request check of docs/ci.md, as its pipelines run it: a team
// repository's checkout checked against the platform repository pinned at a
// commit (over HTTP with a token), in the formats the pipelines upload. A
// rule added to the platform after the pin does not apply until the pin
// moves.
func TestPullRequestCheckPinned(t *testing.T) {
	root := t.TempDir()
	_, platformWork := gitRepo(t, root, "platform", exampleFiles(t, "platform"))
	pinned := strings.TrimSpace(git(t, platformWork, "rev-parse", "HEAD"))
	commit(t, platformWork, map[string]string{"no-ok.rego": "package laiki.governance.later\n\ndeny contains \"a rule of later\" if {\n\tinput[\"laiki-spec\"].id == \"ok\"\n}\n"}, "a stricter rule")
	const token = "tok-platform-7b1d"
	srv := gitHTTP(t, root, token)

	// The pull request's checkout.
	pr := t.TempDir()
	write(t, pr, map[string]string{
		"apps/ok.yaml":  app("ok"),
		"apps/bad.yaml": app("bad") + "  kubernetes-pod-patches: x\n",
	})
	ciConfig := func(ref string) string {
		return "sources:\n  - name: platform\n    role: platform\n    git:\n      url: " + srv.URL + "/platform.git\n      ref: " + ref +
			"\n      auth: {token-env: PLATFORM_TOKEN}\n  - name: team-a\n    path: .\n    allow:\n      resource-types: [ShinyProxyApp, AwsEcrRepository]\n      target-namespaces: [ShinyProxy]\n"
	}
	if err := os.WriteFile(filepath.Join(pr, "laiki.ci.yaml"), []byte(ciConfig(pinned)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(format string) result {
		return laikiRun(t, pr, []string{"PLATFORM_TOKEN=" + token}, "check", "--config", "laiki.ci.yaml", "-o", format, "--cache-dir", filepath.Join(pr, ".cache"))
	}

	gh := run("github")
	if gh.code != 1 || !strings.Contains(gh.stdout, "::error file=apps/bad.yaml,line=8") || strings.Contains(gh.stdout, "a rule of later") {
		t.Errorf("github: exit %d\n%s%s", gh.code, gh.stdout, gh.stderr)
	}
	sarif := run("sarif")
	var s struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(sarif.stdout), &s); err != nil || sarif.code != 1 || len(s.Runs) != 1 || len(s.Runs[0].Results) == 0 ||
		s.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "apps/bad.yaml" {
		t.Errorf("sarif: exit %d, %v\n%s", sarif.code, err, sarif.stdout)
	}
	junit := run("junit")
	var suites struct {
		Failures int `xml:"failures,attr"`
		Tests    int `xml:"tests,attr"`
	}
	if err := xml.Unmarshal([]byte(junit.stdout), &suites); err != nil || junit.code != 1 || suites.Failures == 0 || suites.Tests < 2 {
		t.Errorf("junit: exit %d, %v %+v\n%s", junit.code, err, suites, junit.stdout)
	}
	if strings.Contains(junit.stdout, "a rule of later") {
		t.Error("a rule added after the pin decided")
	}

	// The pin moves to the platform's branch: the new rule applies.
	if err := os.WriteFile(filepath.Join(pr, "laiki.ci.yaml"), []byte(ciConfig("main")), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run("text"); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "a rule of later") {
		t.Errorf("with ref main: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
