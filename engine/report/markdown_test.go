package report_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/plan"
	"github.com/laiki-platform/laiki/engine/report"
	"github.com/laiki-platform/laiki/engine/source"
)

func markdown(t *testing.T, r *pipeline.Result, p *plan.Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.Markdown(&b, r, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mdResult is a run with one resource, accepted or not, and findings.
func mdResult(accepted bool, fs ...finding.Finding) *pipeline.Result {
	d := &document.Document{Kind: document.Resource, Type: "ShinyProxyApp", TargetNamespace: "ShinyProxy", TargetName: "sp", File: "apps/a.yaml", Line: 1}
	return &pipeline.Result{Documents: []*document.Document{d}, Findings: fs,
		Resources: []*pipeline.Resource{{Doc: d, ID: "a", Accepted: accepted}}}
}

// cellBorders counts the | of a table row that split cells: those not
// escaped by an odd run of backslashes (\\| is a backslash, then a border).
func cellBorders(line string) int {
	n, slashes := 0, 0
	for i := range len(line) {
		switch {
		case line[i] == '\\':
			slashes++
			continue
		case line[i] == '|' && slashes%2 == 0:
			n++
		}
		slashes = 0
	}
	return n
}

// A message quoting what a team wrote stays text in its cell: no HTML, no
// new cell, no new line, no link, no mention.
func TestMarkdownEscapesUserText(t *testing.T) {
	hostile := "image x | y <img src=x onerror=alert(1)>\n## Approved [click](javascript:alert(1)) @octocat **bold** `tick` $x$"
	r := mdResult(false, finding.Finding{Severity: finding.Deny, Location: finding.Location{File: "apps/a|b <i>.yaml", Line: 7, Column: 3},
		Message: hostile, Policy: "team|policy"})
	out := markdown(t, r, nil)

	for _, bad := range []string{"<img", "\n## Approved", "[click]", "@octocat", "**bold**", " $x$"} {
		if strings.Contains(out, bad) {
			t.Errorf("the output holds %q:\n%s", bad, out)
		}
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "onerror") {
			if row != "" {
				t.Errorf("the message is on more than one line:\n%s", out)
			}
			row = l
		}
	}
	// The file name is a code span: <i> in it is text.
	if !strings.HasPrefix(row, "| `apps/a\\|b <i>.yaml:7` | ❌ deny | ") || cellBorders(row) != 5 {
		t.Errorf("the row must have its four cells (%d cell borders):\n%s", cellBorders(row), row)
	}
	for _, want := range []string{`image x \| y &lt;img src=x onerror=alert(1)&gt;\\n## Approved \[click\](javascript:alert(1)) @` + "\u2060" + `octocat \*\*bold\*\* \` + "`tick\\`" + ` \$x\$`, "`team\\|policy`"} {
		if !strings.Contains(row, want) {
			t.Errorf("the row lacks %q:\n%s", want, row)
		}
	}
	if !strings.HasPrefix(out, report.MarkdownMarker+"\n## ❌ Laiki: 1 resource rejected (1 denial)\n") {
		t.Errorf("the verdict first:\n%s", out)
	}
	if strings.Contains(out, "### Plan") {
		t.Errorf("no plan without one:\n%s", out)
	}
}

func TestMarkdownVerdictAndNoFindings(t *testing.T) {
	out := markdown(t, mdResult(true), nil)
	for _, want := range []string{"## ✅ Laiki: every resource accepted\n", "1 document: 1 resource accepted, 0 rejected; 0 denials, 0 warnings, 0 errors\n", "No findings.\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}

	// A source that could not be read is no pass, and not the team's doing.
	r := mdResult(true)
	r.Sources = []*source.Loaded{{Source: &source.Source{Name: "platform", Path: "platform"}, Failed: true}}
	if out := markdown(t, r, nil); !strings.Contains(out, "## ⚠️ Laiki could not check everything\n\n```text\nsource platform (path platform) could not be read\n```\n") {
		t.Errorf("an unread source:\n%s", out)
	}
	// The run's faults, as they are, lines and all: nothing in them is
	// Markdown.
	r.Faults = []string{"a policy does not compile:\nplatform/x.rego:3: <b>rego_parse_error</b>\n```"}
	if out := markdown(t, r, nil); !strings.Contains(out, "## ⚠️ Laiki could not check everything\n\n````text\na policy does not compile:\nplatform/x.rego:3: <b>rego_parse_error</b>\n```\n````\n") {
		t.Errorf("faults:\n%s", out)
	}
}

// A file of a Git source is named with its source, as the other formats
// name it: two team repositories may both hold app.yaml.
func TestMarkdownNamesGitFiles(t *testing.T) {
	r := mdResult(true, finding.Finding{Severity: finding.Warn, Location: finding.Location{File: "app.yaml", Line: 4}, Source: "team-one", Message: "m"})
	r.Sources = []*source.Loaded{{Source: &source.Source{Name: "team-one", Git: &source.GitSpec{URL: "https://git.example.com/one.git"}}}}
	p := &plan.Plan{Changes: []plan.Change{{Resource: "ShinyProxyApp ShinyProxy/sp/a", Kind: plan.Added, File: "app.yaml", Line: 1, Source: "team-one", Accepted: true}}}
	out := markdown(t, r, p)
	if !strings.Contains(out, "| `team-one:app.yaml:4` | ⚠️ warn |") || !strings.Contains(out, "- `ShinyProxyApp ShinyProxy/sp/a` at `team-one:app.yaml:1`\n") {
		t.Errorf("a Git source's file:\n%s", out)
	}
}

// The plan: each kind under its heading, saying what it does to the
// platform, and a changed resource's settings as a diff that nothing in a
// value can close.
func TestMarkdownPlan(t *testing.T) {
	p := &plan.Plan{Base: "origin/main", BaseCommit: "3f2c1a9e8d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a", Unchanged: 4, Changes: []plan.Change{
		{Resource: "ShinyProxyApp ShinyProxy/sp/new", Kind: plan.Added, File: "apps/new.yaml", Line: 1, Accepted: true},
		{Resource: "ShinyProxyApp ShinyProxy/sp/demo", Kind: plan.Changed, File: "apps/demo.yaml", Line: 1, Accepted: true, Diff: []plan.FieldChange{
			{Path: "laiki-spec.container-memory-limit", Before: "512Mi", After: "1Gi"},
			{Path: "laiki-spec.container-cmd", After: []any{"R", "-e", "```\n<b>x</b>"}},
			{Path: "laiki-spec.container-cpu-limit", Before: int64(1)},
		}},
		{Resource: "ShinyProxyApp ShinyProxy/sp/old", Kind: plan.Removed, File: "apps/old.yaml", Line: 1},
		{Resource: "ShinyProxyApp ShinyProxy/sp/held", Kind: plan.Held, File: "apps/held.yaml", Line: 2,
			Diff: []plan.FieldChange{{Path: "laiki-spec.container-memory-limit", After: "lots"}}},
	}}
	out := markdown(t, mdResult(true), p)
	for _, want := range []string{
		"### Plan: what merging changes in the platform\n\nCompared with `origin/main` (commit `3f2c1a9e8d7b`): 1 added, 1 changed, 1 removed, 1 held, 0 rejected; 4 unchanged.\n",
		"#### ➕ Added: will run\n\n- `ShinyProxyApp ShinyProxy/sp/new` at `apps/new.yaml:1`\n",
		"#### ✏️ Changed: will run with these settings\n\n- `ShinyProxyApp ShinyProxy/sp/demo` at `apps/demo.yaml:1`\n\n  ````diff\n" +
			"  - laiki-spec.container-memory-limit: \"512Mi\"\n  + laiki-spec.container-memory-limit: \"1Gi\"\n" +
			"  + laiki-spec.container-cmd: [\"R\",\"-e\",\"```\\n<b>x</b>\"]\n" +
			"  - laiki-spec.container-cpu-limit: 1\n  ````\n",
		"#### ➖ Removed: will stop\n\n- `ShinyProxyApp ShinyProxy/sp/old` at `apps/old.yaml:1`\n",
		"#### ⏸️ Held: rejected, the running version stays\n\n- `ShinyProxyApp ShinyProxy/sp/held` at `apps/held.yaml:2`\n\n  ```diff\n  + laiki-spec.container-memory-limit: \"lots\"\n  ```\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks\n%s\nin:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Rejected: will not run") {
		t.Errorf("no heading for a kind with nothing in it:\n%s", out)
	}

	empty := markdown(t, mdResult(true), &plan.Plan{Unchanged: 3})
	if !strings.Contains(empty, "0 added, 0 changed, 0 removed, 0 held, 0 rejected; 3 unchanged.\n\nNothing changes in the running platform.\n") {
		t.Errorf("an empty plan:\n%s", empty)
	}
}

var leftOut = regexp.MustCompile(`_(\d+) more (findings|resources)`)

// However many findings and changes, the summary stays under GitHub's
// limit for a comment, and says how many it leaves out.
func TestMarkdownTruncates(t *testing.T) {
	var fs []finding.Finding
	for i := range 3000 {
		fs = append(fs, finding.Finding{Severity: finding.Warn, Location: finding.Location{File: fmt.Sprintf("apps/app-%04d.yaml", i), Line: 8},
			Message: strings.Repeat("a long message | <b>", 10), Policy: "laiki.governance.baseline"})
	}
	p := &plan.Plan{}
	for i := range 2000 {
		p.Changes = append(p.Changes, plan.Change{Resource: fmt.Sprintf("ShinyProxyApp ShinyProxy/sp/app-%04d", i), Kind: plan.Changed, File: "apps/x.yaml", Line: 1,
			Diff: []plan.FieldChange{{Path: "laiki-spec.container-memory-limit", Before: "512Mi", After: strings.Repeat("1", 5000)}}})
	}
	out := markdown(t, mdResult(true, fs...), p)
	if len(out) > report.MarkdownLimit {
		t.Errorf("%d bytes, more than %d", len(out), report.MarkdownLimit)
	}
	notes := leftOut.FindAllStringSubmatch(out, -1)
	if len(notes) != 2 {
		t.Fatalf("want a note for the findings and one for the plan, got %v:\n%s", notes, out[len(out)-500:])
	}
	rows := strings.Count(out, "| `apps/app-")
	items := strings.Count(out, "- `ShinyProxyApp ShinyProxy/sp/app-")
	if n, _ := strconv.Atoi(notes[0][1]); rows+n != len(fs) || rows == 0 {
		t.Errorf("%d rows shown and %d said left out, of %d findings", rows, n, len(fs))
	}
	if n, _ := strconv.Atoi(notes[1][1]); items+n != len(p.Changes) || items == 0 {
		t.Errorf("%d changes shown and %d said left out, of %d", items, n, len(p.Changes))
	}
	if strings.Contains(out, strings.Repeat("1", 300)) || !strings.Contains(out, "…") {
		t.Errorf("a long value is cut")
	}

	// A small plan keeps all its entries beside many findings.
	small := &plan.Plan{Changes: p.Changes[:3]}
	out = markdown(t, mdResult(true, fs...), small)
	if got := strings.Count(out, "- `ShinyProxyApp ShinyProxy/sp/app-"); got != 3 || len(out) > report.MarkdownLimit {
		t.Errorf("%d of 3 changes shown, %d bytes", got, len(out))
	}
}
