package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/test/platformtest"
)

// mixed is a run with an accepted app, a denied app, a warning and a broken file.
func mixed(t *testing.T) *pipeline.Result {
	t.Helper()
	files := map[string]string{
		"laiki.yaml":          "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team, path: team, allow: {target-namespaces: [apps]}}\n",
		"platform/sp.yaml":    "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  fqdn: sp.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {title: t}\n",
		"team/ok.yaml":        "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: ok\n  container-image: nginx:1\n",
		"team/priv.yaml":      "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: priv\n  container-image: nginx:1\n  container-privileged: true\n",
		"team/warn.yaml":      "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: warn\n  container-image: Team/App\n",
		"team/bad, file.yaml": "laiki-metadata: [\n",
	}
	// As in a pull request's checkout: the files under the working
	// directory, which annotations can land on.
	t.Chdir(platformtest.Tree(t, files))
	return platformtest.RunConfig(t, "laiki.yaml")
}

func render(t *testing.T, format string, res *pipeline.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.Write(&b, format, res); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestJSON(t *testing.T) {
	var rep report.JSONReport
	if err := json.Unmarshal([]byte(render(t, "json", mixed(t))), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if s.Documents != 4 || s.Accepted != 2 || s.Rejected != 1 || s.Denials != 1 || s.Warnings != 1 || s.Errors != 1 {
		t.Errorf("summary = %+v", s)
	}
	for _, f := range rep.Findings {
		if f.Severity == "" || f.File == "" || f.Message == "" || f.Source == "" {
			t.Errorf("incomplete finding %+v", f)
		}
		if f.Severity == "deny" && (f.Line != 5 || f.Policy != "laiki.governance.baseline" || !strings.HasSuffix(f.File, "team/priv.yaml")) {
			t.Errorf("deny finding = %+v", f)
		}
	}
}

func TestSARIF(t *testing.T) {
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(render(t, "sarif", mixed(t))), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "laiki" {
		t.Fatalf("header: %+v", log)
	}
	run := log.Runs[0]
	levels := map[string]int{}
	for _, r := range run.Results {
		levels[r.Level]++
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", r.RuleIndex, r.RuleID)
		}
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.Region.StartLine < 1 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result without a usable location: %+v", r)
		}
	}
	if levels["error"] != 2 || levels["warning"] != 1 {
		t.Errorf("levels = %v", levels)
	}
}

func TestGitHub(t *testing.T) {
	out := render(t, "github", mixed(t))
	line := regexp.MustCompile(`^::(error|warning|notice) file=([^,]+),line=(\d+)(,col=\d+)?,title=([^:]+)::(.+)$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "::") {
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("not an annotation: %q", l)
				continue
			}
			n++
			if strings.Contains(m[2], ",") {
				t.Errorf("a comma in a file name must be escaped: %q", m[2])
			}
		}
	}
	if n != 3 {
		t.Errorf("want 3 annotations, got %d:\n%s", n, out)
	}
}

func TestJUnit(t *testing.T) {
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(render(t, "junit", mixed(t))), &suites); err != nil {
		t.Fatal(err)
	}
	// 4 documents plus the file that is not valid YAML.
	if suites.Tests != 5 || suites.Failures != 1 || suites.Errors != 1 {
		t.Errorf("tests %d failures %d errors %d", suites.Tests, suites.Failures, suites.Errors)
	}
	found := false
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if strings.Contains(c.Name, "/priv") && c.Failure != nil && strings.Contains(c.Failure.Message, "privileged") {
				found = true
			}
		}
	}
	if !found {
		t.Error("the denied app must be a failed test case")
	}
}

func TestText(t *testing.T) {
	out := render(t, "text", mixed(t))
	finding := regexp.MustCompile(`^.+:\d+(:\d+)?: (error|deny|warn|notice): .+ \[[^\]]+\]$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
		if l != "" && !finding.MatchString(l) {
			t.Errorf("bad line %q", l)
		}
	}
	if want := "4 documents: 2 resources accepted, 1 rejected; 1 denial, 1 warning, 1 error"; lines[len(lines)-1] != want {
		t.Errorf("summary %q", lines[len(lines)-1])
	}
}

// hostile holds what a team controls in a finding (its file name, an image
// value quoted in a message) and what a platform source controls (a policy
// name), each trying to start a line of a CI log with a workflow command or
// to drive the terminal.
var hostile = []string{
	"\n::warning file=README.md::pwned",
	"\x1b[31m",
	"\x07",
	"\r::error::pwned",
	"\u2028::notice::pwned",
	"\u2029",
	"\u0085",
	"\u202e",
	"\u2066",
	"\x7f",
	"\xff",
}

func hostileResult() *pipeline.Result {
	var fs []finding.Finding
	for i, h := range hostile {
		fs = append(fs,
			finding.Finding{Severity: finding.Deny, Location: finding.Location{File: "apps/x" + h + ".yaml", Line: i + 1, Column: 3},
				Message: "container-image: nginx" + h + " is not valid", Policy: "laiki.governance." + h, Source: "team"},
			finding.Finding{Severity: finding.Warn, Location: finding.Location{File: h + "::warning file=a::b.yaml"},
				Message: h, Policy: h, Source: "team"})
	}
	fs = append(fs, finding.Finding{Severity: finding.Error, Location: finding.Location{File: "::warning file=README.md::pwned.yaml", Line: 1},
		Message: "a file named like a workflow command", Policy: finding.CheckDocument},
		finding.Finding{Severity: finding.Error, Location: finding.Location{File: "  ::warning file=README.md::pwned.yaml"},
			Message: "blanks first", Policy: finding.CheckDocument},
		finding.Finding{Severity: finding.Error, Location: finding.Location{File: "##vso[task.logissue type=error]pwned.yaml"},
			Message: "an Azure Pipelines command", Policy: finding.CheckDocument})
	return &pipeline.Result{Findings: fs}
}

// unsafe reports the runes of a line that a terminal or a CI log treats as
// more than text.
func unsafe(line string) []rune {
	var out []rune
	for i, r := range line {
		if r == utf8.RuneError && !strings.HasPrefix(line[i:], "\uFFFD") || unicode.IsControl(r) ||
			unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control) {
			out = append(out, r)
		}
	}
	return out
}

func TestTextEscapesWhatUsersWrote(t *testing.T) {
	out := render(t, "text", hostileResult())
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::") || strings.HasPrefix(strings.TrimSpace(l), "##") {
			t.Errorf("a line starts with a CI command: %q", l)
		}
		if u := unsafe(l); len(u) > 0 {
			t.Errorf("raw control or separator characters %q in %q", u, l)
		}
	}
	for _, want := range []string{`apps/x\n::warning file=README.md::pwned.yaml:1:3: deny: container-image: nginx\n::warning file=README.md::pwned is not valid [laiki.governance.\n::warning file=README.md::pwned]`,
		`nginx\x1b[31m is not`, `nginx\x07 is not`, `\r::error::pwned`, `\u2028::notice::pwned`, `\u2029`, `\u0085`, `\u202e`, `\u2066`, `\x7f`, `\xff`,
		"./::warning file=README.md::pwned.yaml:1: error:", "./  ::warning file=README.md::pwned.yaml: error:", "./##vso["} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

// A real run: an image value holding a newline and escape sequences, quoted
// by the baseline's message.
func TestTextEscapesAnImage(t *testing.T) {
	files := map[string]string{
		"laiki.yaml":       "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team, path: team, allow: {target-namespaces: [apps]}}\n",
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  fqdn: sp.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {title: t}\n",
		"team/app.yaml":    "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: app\n  container-image: \"nginx\\n::warning file=README.md::pwned\\e[31m\\a\"\n",
	}
	out := render(t, "text", platformtest.Run(t, files))
	if !strings.Contains(out, `nginx\n::warning file=README.md::pwned\x1b[31m\x07`) {
		t.Errorf("the image is not in the output, escaped:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "::") || len(unsafe(l)) > 0 {
			t.Errorf("unsafe line %q", l)
		}
	}
}

// The machine formats escape as their readers expect: each stays one
// well-formed document (or one command per line) and gives the values back
// as written.
func TestFormatsKeepHostileValuesInside(t *testing.T) {
	res := hostileResult()

	gh := render(t, "github", res)
	lines := strings.Split(strings.TrimSuffix(gh, "\n"), "\n")
	if len(lines) != len(res.Findings)+1 {
		t.Errorf("github: %d lines for %d findings:\n%s", len(lines), len(res.Findings), gh)
	}
	// None of these files is under the working directory: plain commands,
	// the place in the message.
	command := regexp.MustCompile(`^::(error|warning|notice) title=[^:]+::.*$`)
	for _, l := range lines[:len(lines)-1] {
		if !command.MatchString(l) {
			t.Errorf("github: not one workflow command: %q", l)
		}
	}

	var rep report.JSONReport
	if err := json.Unmarshal([]byte(render(t, "json", res)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Findings[0].Message != res.Findings[0].Message || rep.Findings[0].File != res.Findings[0].File {
		t.Errorf("json: %+v", rep.Findings[0])
	}
	sarif := render(t, "sarif", res)
	if err := json.Unmarshal([]byte(sarif), new(any)); err != nil {
		t.Errorf("sarif: %v", err)
	}
	for _, text := range []string{render(t, "json", res), sarif} {
		if strings.ContainsAny(text, "\r\x1b\x07\u2028") {
			t.Errorf("raw control characters in JSON output")
		}
	}
	if err := xml.Unmarshal([]byte(render(t, "junit", res)), new(any)); err != nil {
		t.Errorf("junit: %v", err)
	}
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"apps/shinyproxy-demo.yaml":            "apps/shinyproxy-demo.yaml",
		"Ünïcödé 日本語 ok, tabs\tno":             `Ünïcödé 日本語 ok, tabs\tno`,
		"a\nb\r\nc":                            `a\nb\r\nc`,
		"\x1b[31mred\x1b[0m\x07":               `\x1b[31mred\x1b[0m\x07`,
		"\x00\x7f\u0085\u009b":                 `\x00\x7f\u0085\u009b`,
		"line\u2028sep\u2029para":              `line\u2028sep\u2029para`,
		"\u202aa\u202b\u202c\u202d\u202e":      `\u202aa\u202b\u202c\u202d\u202e`,
		"\u2066\u2067\u2068\u2069\u200e\u200f": `\u2066\u2067\u2068\u2069\u200e\u200f`,
		"bad \xff\xfe byte":                    `bad \xff\xfe byte`,
		`a back\slash stays`:                   `a back\slash stays`,
	} {
		if got := report.SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %s, want %s", in, got, want)
		}
	}
}

// Given plain paths, the text says which role each path had, and when
// every path was a platform source, that the team rules were not applied.
func TestTextSources(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  fqdn: sp.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {title: t}\n",
		"apps/priv.yaml":   "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: priv\n  container-image: nginx:1\n  container-privileged: true\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	platform, apps := filepath.Join(dir, "platform"), filepath.Join(dir, "apps")
	run := func(cfg *source.Config) []string {
		res, err := pipeline.Run(context.Background(), pipeline.Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(render(t, "text", res), "\n"), "\n")
		for len(lines) < 3 {
			lines = append([]string{""}, lines...)
		}
		return lines
	}
	hint := "all paths were read as platform sources: the team rules (access control, the security baseline's limits on team apps) were not applied; " +
		"use --platform DIR for the platform and give the apps as paths to check them as a pull request would"
	summary := regexp.MustCompile(`^\d+ documents: `)

	plain := source.PathsConfig([]string{platform, apps})
	lines := run(plain)
	if want := "sources: " + plain.Sources[0].Name + " (path " + platform + ", role platform), " + plain.Sources[1].Name + " (path " + apps + ", role platform)"; lines[len(lines)-3] != want {
		t.Errorf("sources line\n got %q\nwant %q", lines[len(lines)-3], want)
	}
	if lines[len(lines)-2] != hint || !summary.MatchString(lines[len(lines)-1]) {
		t.Errorf("want the hint, then the summary:\n%s", strings.Join(lines, "\n"))
	}

	// The platform's own files alone: no app was let through, no hint.
	lines = run(source.PathsConfig([]string{platform}))
	if !strings.HasPrefix(lines[len(lines)-2], "sources: ") || strings.Contains(strings.Join(lines, "\n"), hint) {
		t.Errorf("platform only:\n%s", strings.Join(lines, "\n"))
	}

	cfg := source.PlatformPathsConfig([]string{platform}, []string{apps}, []string{"apps"})
	cfg.Sources[0].PolicyDataFrom = filepath.Join(platform, "laiki.yaml")
	lines = run(cfg)
	out := strings.Join(lines, "\n")
	want := "sources: " + cfg.Sources[0].Name + " (path " + platform + ", role platform, policy-data from " + filepath.Join(platform, "laiki.yaml") + "), " +
		cfg.Sources[1].Name + " (path " + apps + ", role team)"
	if lines[len(lines)-2] != want || strings.Contains(out, hint) || !strings.Contains(out, "apps/priv.yaml:5:3: deny: container-privileged") {
		t.Errorf("with --platform, want the denial and\n%s\ngot:\n%s", want, out)
	}
}
