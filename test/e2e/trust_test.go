package e2e

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	js "github.com/santhosh-tekuri/jsonschema/v6"
)

// The docs/ci.md team layout, as a team with neighbours meets it: the
// platform pinned from a Git repository (over HTTP with a token), two other
// team repositories that both hold app.yaml, and the pull request's
// checkout as the team's own source, with a file name SARIF must encode.
type prLayout struct {
	pr, platformWork, token string
	srvURL, daemon          string
}

// The checkout's app: a denial at line 8 (a platform-only key) in a file
// whose name has a space, '#' and '%'.
const oddName = "apps/my app #1%.yaml"

func newPRLayout(t *testing.T) *prLayout {
	t.Helper()
	root := t.TempDir()
	l := &prLayout{token: "tok-platform-3c9e"}
	platform := exampleFiles(t, "platform")
	// A platform rule in its author's words: code scanning shows them.
	platform["names.rego"] = "# METADATA\n# title: App names\n# description: Apps are named for what they do.\n# related_resources:\n#   - ref: https://platform.example.com/naming\n" +
		"package laiki.governance.names\n\nwarn contains \"mine says nothing of what the app does\" if input[\"laiki-spec\"].id == \"mine\"\n"
	_, l.platformWork = gitRepo(t, root, "platform", platform)
	// Upper case in the image: the baseline and the pre-puller both see it
	// on line 7; the team should read it once.
	upper := func(id string) string {
		return strings.Replace(app(id), "team/"+id, "team/Upper"+id, 1)
	}
	gitRepo(t, root, "team-one", map[string]string{"app.yaml": upper("one")})
	gitRepo(t, root, "team-two", map[string]string{"app.yaml": upper("two")})
	l.srvURL = gitHTTP(t, root, l.token).URL
	l.daemon, _ = gitDaemon(t, root)
	l.pr = t.TempDir()
	write(t, l.pr, map[string]string{oddName: app("mine") + "  kubernetes-pod-patches: x\n"})
	l.pin("main")
	return l
}

// pin writes laiki.ci.yaml with the platform at ref.
func (l *prLayout) pin(ref string) {
	cfg := "sources:\n  - name: platform\n    role: platform\n    git:\n      url: " + l.srvURL + "/platform.git\n      ref: " + ref +
		"\n      auth: {token-env: PLATFORM_TOKEN}\n" +
		"  - name: team-one\n    git: {url: " + l.daemon + "/team-one}\n    allow: {target-namespaces: [ShinyProxy]}\n" +
		"  - name: team-two\n    git: {url: " + l.daemon + "/team-two}\n    allow: {target-namespaces: [ShinyProxy]}\n" +
		"  - name: team-a\n    path: .\n    allow:\n      resource-types: [ShinyProxyApp, AwsEcrRepository]\n      target-namespaces: [ShinyProxy]\n"
	if err := os.WriteFile(filepath.Join(l.pr, "laiki.ci.yaml"), []byte(cfg), 0o644); err != nil {
		panic(err)
	}
}

func (l *prLayout) check(t *testing.T, withToken bool, args ...string) result {
	t.Helper()
	var env []string
	if withToken {
		env = []string{"PLATFORM_TOKEN=" + l.token}
	}
	return laikiRun(t, l.pr, env, append([]string{"check", "--config", "laiki.ci.yaml", "--cache-dir", filepath.Join(l.pr, ".cache")}, args...)...)
}

// sarifOf validates a SARIF log, as written, against the SARIF 2.1.0 JSON
// schema, and parses it.
func sarifOf(t *testing.T, r result) *sarif.Report {
	t.Helper()
	doc, err := js.UnmarshalJSON(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("not JSON (%v), exit %d:\n%s\nstderr:\n%s", err, r.code, r.stdout, r.stderr)
	}
	if err := sarifSchema(t).Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v\n%s", err, r.stdout)
	}
	rep, err := sarif.FromBytes([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(rep.Runs))
	}
	return rep
}

var sarifSchemaOnce struct {
	sync.Once
	schema *js.Schema
	err    error
}

// sarifSchema is OASIS's SARIF 2.1.0 schema, as go-sarif ships it (the
// text of its schema.go, in the module cache the tests build from: no
// copy of it in this repository, no download).
func sarifSchema(t *testing.T) *js.Schema {
	t.Helper()
	s := &sarifSchemaOnce
	s.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
		if err != nil {
			s.err = fmt.Errorf("go list go-sarif: %w", err)
			return
		}
		src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go"))
		if err != nil {
			s.err = err
			return
		}
		text := string(src)
		start, end := strings.Index(text, "`"), strings.LastIndex(text, "`")
		if start < 0 || end <= start {
			s.err = errors.New("no schema text in go-sarif's schema.go")
			return
		}
		doc, err := js.UnmarshalJSON(strings.NewReader(text[start+1 : end]))
		if err != nil {
			s.err = err
			return
		}
		c := js.NewCompiler()
		c.AssertFormat() // uri and uri-reference: a file name with a space is not one
		if s.err = c.AddResource("sarif-schema-2.1.0.json", doc); s.err == nil {
			s.schema, s.err = c.Compile("sarif-schema-2.1.0.json")
		}
	})
	if s.err != nil {
		t.Fatalf("the SARIF schema: %v", s.err)
	}
	return s.schema
}

func TestFindingsSayWhereTheyComeFrom(t *testing.T) {
	l := newPRLayout(t)

	text := l.check(t, true)
	for _, want := range []string{
		"team-one:app.yaml:7:3: warn: ",
		"team-two:app.yaml:7:3: warn: ",
		"platform:platform/crane.yaml:8:3: warn: ",
		oddName + ":8:3: deny: ",
	} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("text: no %q\n%s", want, text.stdout)
		}
	}
	if text.code != 1 {
		t.Errorf("text: exit %d, want 1 (a rejected app)\n%s", text.code, text.stderr)
	}
	// The same image warning from two rules on one line: once.
	if n := strings.Count(text.stdout, "team-one:app.yaml:7:3: warn: "); n != 1 {
		t.Errorf("team-one's upper-case image reported %d times, want once\n%s", n, text.stdout)
	}

	gh := l.check(t, true, "-o", "github")
	if !strings.Contains(gh.stdout, "::error file=apps/my app #1%25.yaml,line=8") {
		t.Errorf("github: the checkout's file is not annotated\n%s", gh.stdout)
	}
	for _, not := range []string{"file=app.yaml", "file=platform/crane.yaml"} {
		if strings.Contains(gh.stdout, not) {
			t.Errorf("github: %s is not in the checkout, yet annotated\n%s", not, gh.stdout)
		}
	}
	for _, want := range []string{"::team-one:app.yaml:7:3: ", "::team-two:app.yaml:7:3: ", "::platform:platform/crane.yaml:8:3: "} {
		if !strings.Contains(gh.stdout, want) {
			t.Errorf("github: no plain message %q\n%s", want, gh.stdout)
		}
	}

	s := l.check(t, true, "-o", "sarif")
	rep := sarifOf(t, s)
	run := rep.Runs[0]
	if v := run.Tool.Driver.Version; v == nil || *v == "" {
		t.Error("sarif: no tool version")
	}
	rules := map[string]*sarif.ReportingDescriptor{}
	for _, r := range run.Tool.Driver.Rules {
		rules[*r.ID] = r
	}
	if r := rules["laiki.governance.names"]; r == nil || *r.ShortDescription.Text != "App names" || r.FullDescription == nil ||
		*r.FullDescription.Text != "Apps are named for what they do." || r.HelpURI == nil || *r.HelpURI != "https://platform.example.com/naming" {
		t.Errorf("sarif: the platform rule is not described from its METADATA: %+v", r)
	}
	if r := rules["laiki.governance.baseline"]; r == nil || *r.ShortDescription.Text != "Security baseline" || r.FullDescription == nil {
		t.Errorf("sarif: the baseline is not described from its METADATA: %+v", r)
	}
	var uris []string
	for _, r := range run.Results {
		for _, loc := range r.Locations {
			a := loc.PhysicalLocation.ArtifactLocation
			uris = append(uris, *a.URI)
			if a.URIBaseID == nil || *a.URIBaseID != "%SRCROOT%" {
				t.Errorf("sarif: %s has no uriBaseId for the checkout", *a.URI)
			}
		}
	}
	if strings.Join(uris, " ") != "apps/my%20app%20%231%25.yaml apps/my%20app%20%231%25.yaml" {
		t.Errorf("sarif: result URIs %q, want the checkout's file only, percent-encoded", uris)
	}
	if len(run.Invocations) != 1 || run.Invocations[0].ExecutionSuccessful == nil || !*run.Invocations[0].ExecutionSuccessful {
		t.Fatalf("sarif: want one successful invocation, got %+v", run.Invocations)
	}
	var notes []string
	for _, n := range run.Invocations[0].ToolExecutionNotifications {
		notes = append(notes, *n.Message.Text)
	}
	for _, want := range []string{"team-one:app.yaml:7:3: ", "team-two:app.yaml:7:3: ", "platform:platform/crane.yaml:8:3: "} {
		if !strings.Contains(strings.Join(notes, "\n"), want) {
			t.Errorf("sarif: no run-level notification %q in\n%s", want, strings.Join(notes, "\n"))
		}
	}
}

// A fault of Laiki's (the platform cannot be read, a platform policy does
// not compile) is exit 2 in every format, with the report still written,
// and no team file is blamed for it.
func TestFaultsAreNotBlamedOnTheTeam(t *testing.T) {
	l := newPRLayout(t)
	broken := func(t *testing.T, rs map[string]result, why string) {
		t.Helper()
		for format, r := range rs {
			if r.code != 2 {
				t.Errorf("%s (%s): exit %d, want 2\n%s%s", format, why, r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "no target") {
				t.Errorf("%s (%s): the team's apps are blamed for the platform's fault\n%s", format, why, r.stdout)
			}
		}
		rep := sarifOf(t, rs["sarif"])
		inv := rep.Runs[0].Invocations
		if len(inv) != 1 || inv[0].ExecutionSuccessful == nil || *inv[0].ExecutionSuccessful {
			t.Errorf("sarif (%s): executionSuccessful should be false: %s", why, rs["sarif"].stdout)
		} else if len(inv[0].ToolExecutionNotifications) == 0 || !strings.Contains(*inv[0].ToolExecutionNotifications[0].Message.Text, why) {
			t.Errorf("sarif (%s): the fault is not a tool execution notification: %s", why, rs["sarif"].stdout)
		}
		for _, res := range rep.Runs[0].Results {
			for _, loc := range res.Locations {
				if *loc.PhysicalLocation.ArtifactLocation.URI == "apps/my%20app%20%231%25.yaml" {
					t.Errorf("sarif (%s): a finding on the team's file: %s", why, *res.Message.Text)
				}
			}
		}
		var suites struct {
			Errors int `xml:"errors,attr"`
			Suites []struct {
				Cases []struct {
					Error *struct {
						Message string `xml:"message,attr"`
					} `xml:"error"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(rs["junit"].stdout), &suites); err != nil || suites.Errors == 0 || !strings.Contains(rs["junit"].stdout, why) {
			t.Errorf("junit (%s): no <error> with the fault (%v)\n%s", why, err, rs["junit"].stdout)
		}
		var js struct {
			Faults    []string `json:"faults"`
			Resources []struct {
				Accepted   bool `json:"accepted"`
				NotChecked bool `json:"not-checked"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(rs["json"].stdout), &js); err != nil || len(js.Faults) == 0 || !strings.Contains(strings.Join(js.Faults, " "), why) {
			t.Errorf("json (%s): no fault (%v)\n%s", why, err, rs["json"].stdout)
		}
		for _, res := range js.Resources {
			if !res.NotChecked {
				t.Errorf("json (%s): a resource judged while the platform could not be read: %s", why, rs["json"].stdout)
			}
		}
		if gh := rs["github"].stdout; !strings.Contains(gh, "::error title=laiki could not run::") || strings.Contains(gh, "file=apps/") {
			t.Errorf("github (%s): want the fault as an error without a file\n%s", why, gh)
		}
		if !strings.Contains(rs["text"].stderr, why) || !strings.Contains(rs["text"].stdout, "not checked") {
			t.Errorf("text (%s): the fault on standard error and the apps not checked, got\n%s%s", why, rs["text"].stdout, rs["text"].stderr)
		}
	}
	all := func(withToken bool) map[string]result {
		rs := map[string]result{}
		for _, f := range []string{"text", "json", "sarif", "github", "junit"} {
			rs[f] = l.check(t, withToken, "-o", f)
		}
		return rs
	}

	t.Run("platform unreadable", func(t *testing.T) {
		rs := all(false)
		broken(t, rs, "platform")
		// The refusal is at the source's entry in laiki.ci.yaml, a file of
		// the checkout: not named as one of the platform repository's.
		if out := rs["text"].stdout; !strings.HasPrefix(out, "laiki.ci.yaml:2:5: error: source platform") {
			t.Errorf("text: want the refusal at laiki.ci.yaml:2:5, got\n%s", out)
		}
	})

	t.Run("platform policy does not compile", func(t *testing.T) {
		commit(t, l.platformWork, map[string]string{"broken.rego": "package laiki.governance.broken\n\ndeny contains msg if {\n\tmsg := \n}\n"}, "a broken rule")
		rs := all(true)
		broken(t, rs, "broken.rego")
		if strings.Contains(rs["github"].stdout, "file=broken.rego") {
			t.Errorf("github: broken.rego is not in the checkout\n%s", rs["github"].stdout)
		}
	})
}
