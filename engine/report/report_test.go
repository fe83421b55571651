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

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
)

// mixed is a run with an accepted app, a denied app, a warning and a broken file.
func mixed(t *testing.T) *engine.Result {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"laiki.yaml":          "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team, path: team, allow: {target-namespaces: [apps]}}\n",
		"platform/sp.yaml":    "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  proxy: {title: t}\n",
		"team/ok.yaml":        "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: ok\n  container-image: nginx:1\n",
		"team/priv.yaml":      "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: priv\n  container-image: nginx:1\n  container-privileged: true\n",
		"team/warn.yaml":      "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: warn\n  container-image: Team/App\n",
		"team/bad, file.yaml": "laiki-metadata: [\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := source.LoadConfig(filepath.Join(dir, "laiki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := engine.Run(context.Background(), engine.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func render(t *testing.T, format string, res *engine.Result) string {
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
	if want := "4 documents: 2 resources accepted, 1 rejected; 1 denials, 1 warnings, 1 errors"; lines[len(lines)-1] != want {
		t.Errorf("summary %q", lines[len(lines)-1])
	}
}
