package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/plan"
)

// MarkdownLimit bounds the summary Markdown writes, in bytes: GitHub takes
// at most 65,536 characters in a pull-request comment (a byte is never
// fewer characters), and the rest leaves room for what a pipeline puts
// around it.
const MarkdownLimit = 60000

// MarkdownMarker opens the summary, unseen on the page: a pipeline finds
// its earlier comment by it and edits it instead of adding one per push.
const MarkdownMarker = "<!-- laiki check -->"

// Most lines a changed resource's diff shows, most bytes of one value in
// it and of one message: one resource or one finding cannot take the whole
// comment.
const (
	maxDiffLines = 40
	maxValueText = 200
	maxMessage   = 1000
)

// Markdown writes a run as GitHub-flavoured Markdown, for a pull-request
// comment, a merge-request note or $GITHUB_STEP_SUMMARY: the verdict, the
// counts, a table of the findings and, when p is not nil, the plan (what
// the merge changes in the running platform). What users wrote (messages
// quoting their values, file names, ids) is escaped: it cannot add HTML, a
// link, a mention or a table cell. Over MarkdownLimit, findings and plan
// entries are left out, with a note saying how many.
func Markdown(w io.Writer, r *pipeline.Result, p *plan.Plan) error {
	var b strings.Builder
	writeVerdict(&b, r)
	at := placesOf(r)
	rows := findingRows(at, r.Findings)
	var entries []string
	if p != nil {
		entries = planEntries(at, p)
	}
	// Room for the headings and the notes of what was left out.
	room := MarkdownLimit - b.Len() - 2000
	nRows, nEntries := share(rows, entries, room)
	writeFindings(&b, rows, nRows)
	if p != nil {
		writePlan(&b, p, entries, nEntries)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// share says how many rows and entries fit in room bytes, each in order:
// each list gets half, and what one does not need goes to the other.
func share(rows, entries []string, room int) (nRows, nEntries int) {
	total := func(s []string) int {
		n := 0
		for _, x := range s {
			n += len(x)
		}
		return n
	}
	forRows := max(room/2, room-total(entries))
	nRows = fit(rows, forRows)
	used := total(rows[:nRows])
	return nRows, fit(entries, room-used)
}

// fit counts how many of s, from the first, fit in room bytes.
func fit(s []string, room int) int {
	for i, x := range s {
		if room -= len(x); room < 0 {
			return i
		}
	}
	return len(s)
}

// writeVerdict heads the summary: ✅ only when every source was read and
// every resource accepted. A fault (a source that could not be read, a
// policy that does not compile) is the platform's or Laiki's, not the
// team's, and is said before any count.
func writeVerdict(b *strings.Builder, r *pipeline.Result) {
	b.WriteString(MarkdownMarker + "\n")
	s := r.Summary()
	switch faults := faultsOf(r); {
	case len(faults) > 0:
		b.WriteString("## ⚠️ Laiki could not check everything\n\n")
		writeFaults(b, faults)
	case r.Failed():
		fmt.Fprintf(b, "## ❌ Laiki: %s\n\n", plural(s.Rejected, "resource rejected", "resources rejected")+blockingCounts(s))
	case !allAccepted(r):
		b.WriteString("## ⚠️ Laiki: not every resource could be checked\n\n")
	default:
		b.WriteString("## ✅ Laiki: every resource accepted\n\n")
	}
	b.WriteString(summaryLine(s))
}

// faultsOf is what kept a run from judging: its Faults (StandDown), or,
// on a run that was not asked, the sources it could not read.
func faultsOf(r *pipeline.Result) []string {
	if len(r.Faults) > 0 {
		return r.Faults
	}
	var out []string
	for _, l := range r.Sources {
		if l.Failed {
			out = append(out, fmt.Sprintf("source %s (%s) could not be read", l.Source.Name, l.Source.Describe()))
		}
	}
	return out
}

// writeFaults writes the faults as a text block: one may hold several
// lines (a policy's compile errors), and a block shows them as they are,
// with nothing in them read as Markdown.
func writeFaults(b *strings.Builder, faults []string) {
	var lines []string
	for _, f := range faults {
		for _, l := range strings.Split(f, "\n") {
			lines = append(lines, SafeText(l))
		}
	}
	text := strings.Join(lines, "\n")
	fence := fenceFor(text)
	b.WriteString(fence + "text\n" + text + "\n" + fence + "\n\n")
}

// allAccepted reports whether every resource of a run is accepted (or the
// running version of one is held): a run can fail to judge some without
// rejecting them.
func allAccepted(r *pipeline.Result) bool {
	for _, res := range r.Resources {
		if !res.Accepted && !res.Held {
			return false
		}
	}
	return true
}

// blockingCounts adds the denials and errors to the heading of a failed
// run: a run can fail with nothing rejected (a file that does not parse).
func blockingCounts(s pipeline.Summary) string {
	var parts []string
	if s.Denials > 0 {
		parts = append(parts, plural(s.Denials, "denial", "denials"))
	}
	if s.Errors > 0 {
		parts = append(parts, plural(s.Errors, "error", "errors"))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

var severityIcon = map[finding.Severity]string{finding.Error: "🛑", finding.Deny: "❌", finding.Warn: "⚠️", finding.Notice: "ℹ️"}

// findingRows makes a table row of each finding, its file named as the
// other formats name it (team-one:app.yaml for a Git source's).
func findingRows(at places, fs []finding.Finding) []string {
	rows := make([]string, 0, len(fs))
	for _, f := range fs {
		where := "laiki"
		if f.File != "" {
			where = codeCell(at.where(f.Source, finding.Location{File: f.File, Line: f.Line}))
		}
		policy := ""
		if f.Policy != "" {
			policy = codeCell(f.Policy)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s %s | %s | %s |\n", where, severityIcon[f.Severity], mdText(string(f.Severity)), mdText(clip(f.Message, maxMessage)), policy))
	}
	return rows
}

func writeFindings(b *strings.Builder, rows []string, n int) {
	if len(rows) == 0 {
		b.WriteString("\nNo findings.\n")
		return
	}
	b.WriteString("\n### Findings\n\n| Where | Severity | Message | Policy |\n| --- | --- | --- | --- |\n")
	for _, row := range rows[:n] {
		b.WriteString(row)
	}
	if left := len(rows) - n; left > 0 {
		fmt.Fprintf(b, "\n_%s not shown, to keep this under GitHub's size limit: the job's log has them all (laiki check -o text)._\n", plural(left, "more finding", "more findings"))
	}
}

// kindTitle heads each kind's part of the plan, saying what it does to the
// running platform.
var kindTitle = map[plan.Kind]string{
	plan.Added:    "➕ Added: will run",
	plan.Changed:  "✏️ Changed: will run with these settings",
	plan.Removed:  "➖ Removed: will stop",
	plan.Held:     "⏸️ Held: rejected, the running version stays",
	plan.Rejected: "🚫 Rejected: will not run",
}

// planEntries makes the Markdown of each change: a list item, with the
// diff of its settings when it has one.
func planEntries(at places, p *plan.Plan) []string {
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		var b strings.Builder
		fmt.Fprintf(&b, "- %s at %s\n", code(c.Resource), code(at.where(c.Source, finding.Location{File: c.File, Line: c.Line})))
		if len(c.Diff) > 0 {
			writeDiff(&b, c.Diff)
		}
		out = append(out, b.String())
	}
	return out
}

// writeDiff writes a change's settings as a diff block inside its list
// item: - before, + after, one setting a line.
func writeDiff(b *strings.Builder, diff []plan.FieldChange) {
	var lines []string
	for i, f := range diff {
		if i == maxDiffLines {
			lines = append(lines, fmt.Sprintf("# ... and %s", plural(len(diff)-i, "more setting", "more settings")))
			break
		}
		if f.Before != nil {
			lines = append(lines, "- "+SafeText(f.Path)+": "+valueText(f.Before))
		}
		if f.After != nil {
			lines = append(lines, "+ "+SafeText(f.Path)+": "+valueText(f.After))
		}
	}
	fence := fenceFor(strings.Join(lines, "\n"))
	b.WriteString("\n  " + fence + "diff\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("  " + fence + "\n")
}

func writePlan(b *strings.Builder, p *plan.Plan, entries []string, n int) {
	b.WriteString("\n### Plan: what merging changes in the platform\n\n")
	switch {
	case p.Base != "" && p.BaseCommit != "":
		fmt.Fprintf(b, "Compared with %s (commit %s): ", code(clip(p.Base, maxValueText)), code(p.BaseCommit[:min(12, len(p.BaseCommit))]))
	case p.Base != "":
		fmt.Fprintf(b, "Compared with %s: ", code(clip(p.Base, maxValueText)))
	}
	var counts []string
	for _, k := range []plan.Kind{plan.Added, plan.Changed, plan.Removed, plan.Held, plan.Rejected} {
		counts = append(counts, fmt.Sprintf("%d %s", p.Count(k), k))
	}
	fmt.Fprintf(b, "%s; %d unchanged.\n", strings.Join(counts, ", "), p.Unchanged)
	if len(p.Changes) == 0 {
		b.WriteString("\nNothing changes in the running platform.\n")
		return
	}
	var kind plan.Kind
	for i, c := range p.Changes[:n] {
		if c.Kind != kind {
			kind = c.Kind
			fmt.Fprintf(b, "\n#### %s\n\n", kindTitle[kind])
		}
		b.WriteString(entries[i])
	}
	if left := len(p.Changes) - n; left > 0 {
		fmt.Fprintf(b, "\n_%s of the plan not shown, to keep this under GitHub's size limit._\n", plural(left, "more resource", "more resources"))
	}
}

// valueText writes a setting on one line, as JSON (a string quoted, a
// newline in it \n), cut at maxValueText bytes. It goes in a code block,
// where < and & are text: JSON's \u003c would only make it harder to read.
func valueText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	text := fmt.Sprint(v)
	if enc.Encode(v) == nil {
		text = strings.TrimSuffix(b.String(), "\n")
	}
	return clip(SafeText(text), maxValueText)
}

// clip cuts s to at most n bytes (and the ellipsis), at a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// fenceFor is a code fence longer than any run of backticks in s, so that
// s cannot close it.
func fenceFor(s string) string { return strings.Repeat("`", max(3, backticks(s)+1)) }

// backticks is the longest run of backticks in s.
func backticks(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// code writes s as a code span: nothing in it is Markdown or HTML. Its
// delimiter is longer than any run of backticks in it.
func code(s string) string {
	s = SafeText(s)
	d := strings.Repeat("`", backticks(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		s = " " + s + " " // a space on each side is stripped, a backtick at the edge kept
	}
	return d + s + d
}

// codeCell is code for a table cell: GitHub splits cells at | before it
// reads code spans, so | is escaped there too.
func codeCell(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// mdText makes user text plain text in Markdown, inside a line (never at
// its start) or a table cell: control characters as SafeText writes them,
// HTML's < > & as entities, the characters Markdown reads inside a line
// (code, emphasis, strikethrough, links, math, cell borders) backslashed,
// and an @ that would mention someone (a user or a team, whom GitHub would
// notify) followed by a word joiner (U+2060), which no name starts with.
func mdText(s string) string {
	s = SafeText(s)
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '@' && !unicode.IsLetter(prev) && !unicode.IsDigit(prev):
			b.WriteString("@\u2060")
		case strings.ContainsRune("\\`*_[]|~$", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}
