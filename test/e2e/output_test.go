package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Scenario 7: one run with accepted resources, warnings and one denied app,
// in every output format, each parsed back and checked against the JSON
// report of the same run. Every file is under the working directory (the
// team's checkout, as a pull request is checked), so every finding is an
// annotation; files of Git sources are trust_test.go's.
func TestOutputFormats(t *testing.T) {
	files := exampleFiles(t, "apps")
	// Line 8: a setting only the platform may use.
	files["apps/patched.yaml"] = app("patched") + "  kubernetes-pod-patches: x\n"
	dir := config(t, "  - name: team-a\n    path: apps\n    allow: {target-namespaces: [ShinyProxy]}\n")
	write(t, dir, files)
	cache := t.TempDir()

	out := map[string]result{}
	for _, format := range []string{"json", "text", "sarif", "github", "junit"} {
		r := check(t, dir, cache, format)
		if r.code != 1 {
			t.Errorf("-o %s: exit %d, want 1 (an app is denied)\n%s%s", format, r.code, r.stdout, r.stderr)
		}
		if r.stderr != "" {
			t.Errorf("-o %s: unexpected stderr: %s", format, r.stderr)
		}
		if strings.Contains(r.stdout, cache) {
			t.Errorf("-o %s names a file in the cache, not in the repository:\n%s", format, r.stdout)
		}
		out[format] = r
	}

	// JSON, the reference for the others.
	rep := parseReport(t, out["json"])
	if _, failed := rep.source("team-a"); failed {
		t.Error("team-a failed")
	}
	if !rep.accepted("shinyproxy-demo") || !rep.accepted("my-repository-name") || rep.accepted("patched") {
		t.Errorf("want the two examples accepted and patched rejected: %+v", rep.Resources)
	}
	s := rep.Summary
	if s.Accepted != 2 || s.Rejected != 1 || s.Denials != 1 || s.Errors != 0 || s.Warnings == 0 || s.Documents != 7 {
		t.Errorf("summary %+v: want 7 documents (4 platform, 3 team), 2 accepted, 1 rejected, 1 denial, warnings, no errors", s)
	}
	deny := rep.find(t, want{"deny", "laiki.governance.baseline", "apps/patched.yaml", 8, "team-a", "kubernetes-pod-patches"})
	if deny.Column != 3 || deny.Field != "laiki-spec.kubernetes-pod-patches" || !strings.Contains(deny.Resource, "patched") {
		t.Errorf("the denial's column, field and resource: %+v", deny)
	}
	if len(rep.Findings) < 3 {
		t.Fatalf("want the denial and warnings, got:%s", rep.describe())
	}

	t.Run("sarif", func(t *testing.T) {
		var log struct {
			Version string `json:"version"`
			Schema  string `json:"$schema"`
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
								StartLine   int `json:"startLine"`
								StartColumn int `json:"startColumn"`
							} `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out["sarif"].stdout), &log); err != nil {
			t.Fatalf("SARIF is not JSON: %v\n%s", err, out["sarif"].stdout)
		}
		if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "laiki" {
			t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
		}
		run := log.Runs[0]
		if len(run.Results) != len(rep.Findings) {
			t.Errorf("%d results for %d findings", len(run.Results), len(rep.Findings))
		}
		levels := map[string]string{"error": "error", "deny": "error", "warn": "warning", "notice": "note"}
		var denied bool
		for i, res := range run.Results {
			if res.RuleID == "" || res.Message.Text == "" || (res.Level != "error" && res.Level != "warning" && res.Level != "note") {
				t.Errorf("result %d: ruleId %q, level %q, message %q", i, res.RuleID, res.Level, res.Message.Text)
			}
			if res.RuleIndex < 0 || res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
				t.Errorf("result %d: ruleIndex %d does not name rule %s", i, res.RuleIndex, res.RuleID)
			}
			if len(res.Locations) == 0 {
				t.Errorf("result %d has no location: %+v", i, res)
				continue
			}
			loc := res.Locations[0].PhysicalLocation
			if loc.ArtifactLocation.URI == "" || loc.Region.StartLine < 1 {
				t.Errorf("result %d: uri %q, startLine %d", i, loc.ArtifactLocation.URI, loc.Region.StartLine)
			}
			if i < len(rep.Findings) {
				f := rep.Findings[i]
				if loc.ArtifactLocation.URI != strings.TrimPrefix(f.File, "./") || (f.Line > 0 && loc.Region.StartLine != f.Line) ||
					res.Level != levels[f.Severity] || res.Message.Text != f.Message || res.RuleID != f.Policy {
					t.Errorf("result %d %+v does not say what finding %s says", i, res, f)
				}
			}
			if res.RuleID == "laiki.governance.baseline" && res.Level == "error" && loc.ArtifactLocation.URI == "apps/patched.yaml" &&
				loc.Region.StartLine == 8 && loc.Region.StartColumn == 3 {
				denied = true
			}
		}
		if !denied {
			t.Error("no SARIF error for the denied app at apps/patched.yaml:8:3")
		}
	})

	t.Run("github", func(t *testing.T) {
		lines := strings.Split(strings.TrimRight(out["github"].stdout, "\n"), "\n")
		command := regexp.MustCompile(`^::(error|warning|notice) file=([^,:]+)(?:,line=(\d+))?(?:,col=(\d+))?,title=([^:]*)::(.+)$`)
		summary := regexp.MustCompile(`^(\d+) documents?: (\d+) resources? accepted, (\d+) rejected; (\d+) denials?, (\d+) warnings?, (\d+) errors?$`)
		if len(lines) != len(rep.Findings)+1 {
			t.Fatalf("want one line per finding and a summary, got:\n%s", out["github"].stdout)
		}
		cmds := map[string]string{"error": "error", "deny": "error", "warn": "warning", "notice": "notice"}
		for i, line := range lines[:len(lines)-1] {
			m := command.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("not a workflow command: %q", line)
				continue
			}
			f := rep.Findings[i]
			if m[1] != cmds[f.Severity] || m[2] != f.File || m[3] != lineOrEmpty(f.Line) || m[6] != f.Message {
				t.Errorf("%q does not say what finding %s says", line, f)
			}
		}
		if !hasPrefix(lines, "::error file=apps/patched.yaml,line=8,col=3,") {
			t.Errorf("no error annotation for the denied app:\n%s", out["github"].stdout)
		}
		checkSummary(t, summary.FindStringSubmatch(lines[len(lines)-1]), rep)
	})

	t.Run("text", func(t *testing.T) {
		lines := strings.Split(strings.TrimRight(out["text"].stdout, "\n"), "\n")
		entry := regexp.MustCompile(`^([^:\s]+)(?::(\d+))?(?::(\d+))?: (error|deny|warn|notice): (.+) \[([^\]]+)\]$`)
		summary := regexp.MustCompile(`^(\d+) documents?: (\d+) resources? accepted, (\d+) rejected; (\d+) denials?, (\d+) warnings?, (\d+) errors?$`)
		var n int
		for _, line := range lines[:len(lines)-1] {
			if line == "" {
				continue // between files
			}
			m := entry.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("not file:line:col: severity: message [policy]: %q", line)
				continue
			}
			if n < len(rep.Findings) {
				f := rep.Findings[n]
				if m[1] != f.File || m[2] != lineOrEmpty(f.Line) || m[4] != f.Severity || m[5] != f.Message || m[6] != f.Policy {
					t.Errorf("%q does not say what finding %s says", line, f)
				}
			}
			n++
		}
		if n != len(rep.Findings) {
			t.Errorf("%d finding lines for %d findings:\n%s", n, len(rep.Findings), out["text"].stdout)
		}
		if !hasPrefix(lines, "apps/patched.yaml:8:3: deny: kubernetes-pod-patches") {
			t.Errorf("no line for the denial:\n%s", out["text"].stdout)
		}
		checkSummary(t, summary.FindStringSubmatch(lines[len(lines)-1]), rep)
	})

	t.Run("junit", func(t *testing.T) {
		type problem struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		}
		var suites struct {
			XMLName  xml.Name `xml:"testsuites"`
			Tests    int      `xml:"tests,attr"`
			Failures int      `xml:"failures,attr"`
			Errors   int      `xml:"errors,attr"`
			Suites   []struct {
				Name     string `xml:"name,attr"`
				Tests    int    `xml:"tests,attr"`
				Failures int    `xml:"failures,attr"`
				Cases    []struct {
					Name      string   `xml:"name,attr"`
					File      string   `xml:"file,attr"`
					Line      int      `xml:"line,attr"`
					Failure   *problem `xml:"failure"`
					Error     *problem `xml:"error"`
					SystemOut string   `xml:"system-out"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(out["junit"].stdout), &suites); err != nil {
			t.Fatalf("JUnit is not XML: %v\n%s", err, out["junit"].stdout)
		}
		var cases, failures int
		files := map[string]bool{}
		for _, s := range suites.Suites {
			if len(s.Cases) != s.Tests {
				t.Errorf("suite %s: tests=%d for %d cases", s.Name, s.Tests, len(s.Cases))
			}
			for _, c := range s.Cases {
				cases++
				files[c.File] = true
				if c.Error != nil {
					t.Errorf("no document is in error, but %s has %+v", c.Name, c.Error)
				}
				if c.Failure == nil {
					continue
				}
				failures++
				if s.Name != "team-a" || c.File != "apps/patched.yaml" || !strings.Contains(c.Name, "patched") ||
					c.Failure.Type != "deny" || !strings.Contains(c.Failure.Message, "kubernetes-pod-patches") ||
					!strings.Contains(c.Failure.Text, "apps/patched.yaml:8:3") {
					t.Errorf("failure on the wrong case or saying the wrong thing: suite %s, %+v", s.Name, c)
				}
			}
		}
		if cases != rep.Summary.Documents || suites.Tests != cases {
			t.Errorf("%d test cases (tests=%d) for %d documents: want one per document", cases, suites.Tests, rep.Summary.Documents)
		}
		if failures != 1 || suites.Failures != 1 || suites.Errors != 0 {
			t.Errorf("want exactly one failure (the denied app), got %d (failures=%d, errors=%d)", failures, suites.Failures, suites.Errors)
		}
		for _, f := range []string{"apps/patched.yaml", "apps/shinyproxy-demo.yaml", "apps/ecr-repository.yaml", "platform/shinyproxy.yaml"} {
			if !files[f] {
				t.Errorf("no test case for %s", f)
			}
		}
	})
}

func lineOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// hasPrefix reports whether a line starts with prefix.
func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func checkSummary(t *testing.T, m []string, rep report) {
	t.Helper()
	if m == nil {
		t.Error("the last line is not the summary")
		return
	}
	s := rep.Summary
	if got, want := strings.Join(m[1:], " "), fmt.Sprint(s.Documents, s.Accepted, s.Rejected, s.Denials, s.Warnings, s.Errors); got != want {
		t.Errorf("summary line says %s, the JSON report %s", got, want)
	}
}
