// Package report writes a run's findings in the formats pull-request tooling
// reads: text for people, JSON for scripts, SARIF for GitHub code scanning,
// GitHub workflow annotations, and JUnit for GitLab and most CI servers.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/engine/version"
)

// Formats lists the output formats.
var Formats = []string{"text", "json", "sarif", "github", "junit", "markdown"}

// Write writes a result in a format.
func Write(w io.Writer, format string, r *pipeline.Result) error {
	switch format {
	case "text", "":
		return Text(w, r)
	case "json":
		return JSON(w, r)
	case "sarif":
		return SARIF(w, r)
	case "github":
		return GitHub(w, r)
	case "junit":
		return JUnit(w, r)
	case "markdown":
		return Markdown(w, r, nil)
	}
	return fmt.Errorf("unknown output format %q (one of %s)", format, strings.Join(Formats, ", "))
}

// Text writes `file:line:col: severity: message [policy]`, grouped by file,
// then, for a run from paths given on the command line, the role each path
// had (writeSources), then a summary line. What users wrote (file names,
// messages quoting their values, policy and source names) goes through
// SafeText and SafeLocation: every line starts with a file name or with
// Laiki's own words, never with a CI command or a terminal's escape
// sequence.
func Text(w io.Writer, r *pipeline.Result) error { return TextWith(w, r, TextOptions{}) }

// TextOptions tune the text output for a terminal or a CI log.
type TextOptions struct {
	// Quiet writes the findings only: no sources line, no summary.
	Quiet bool
	// Color marks severities with ANSI colours (a terminal; never in a file
	// or a pipe, and never with NO_COLOR).
	Color bool
}

// severityColor is the ANSI colour of a severity.
var severityColor = map[string]string{"error": "31", "deny": "31", "warn": "33", "notice": "2"}

// TextWith is Text with options.
func TextWith(w io.Writer, r *pipeline.Result, o TextOptions) error {
	var b strings.Builder
	at := placesOf(r)
	file := "\x00"
	for _, f := range r.Findings {
		if name := at.name(f.Source, f.File); name != file && file != "\x00" {
			b.WriteByte('\n')
		}
		file = at.name(f.Source, f.File)
		loc := f.Location
		loc.File = file
		where := SafeLocation(loc)
		if where == "" {
			where = "laiki"
		}
		sev := SafeText(string(f.Severity))
		if c := severityColor[sev]; o.Color && c != "" {
			sev = "\x1b[" + c + "m" + sev + "\x1b[0m"
		}
		fmt.Fprintf(&b, "%s: %s: %s", where, sev, SafeText(f.Message))
		if f.Policy != "" {
			fmt.Fprintf(&b, " [%s]", SafeText(f.Policy))
		}
		b.WriteByte('\n')
	}
	if o.Quiet {
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.Findings) > 0 {
		b.WriteByte('\n')
	}
	writeSources(&b, r)
	b.WriteString(summaryLine(r.Summary()))
	_, err := io.WriteString(w, b.String())
	return err
}

// summaryLine counts a run in words, plurals right.
func summaryLine(s pipeline.Summary) string {
	n := func(k int, one, many string) string {
		if k == 1 {
			return fmt.Sprintf("%d %s", k, one)
		}
		return fmt.Sprintf("%d %s", k, many)
	}
	notChecked := ""
	if s.NotChecked > 0 {
		notChecked = fmt.Sprintf(", %d not checked", s.NotChecked)
	}
	return fmt.Sprintf("%s: %s accepted, %d rejected%s; %s, %s, %s\n", n(s.Documents, "document", "documents"),
		n(s.Accepted, "resource", "resources"), s.Rejected, notChecked, n(s.Denials, "denial", "denials"), n(s.Warnings, "warning", "warnings"), n(s.Errors, "error", "errors"))
}

// allPlatformHint is the line Text adds when a run from plain paths read
// every path as a platform source and judged resources from them.
const allPlatformHint = "all paths were read as platform sources: the team rules (access control, the security baseline's limits on team apps) were not applied; " +
	"use --platform DIR for the platform and give the apps as paths to check them as a pull request would"

// writeSources says, for a run from paths given on the command line (not
// laiki.yaml), which role each path had: a platform path is not held to
// the team rules, and someone trying their app should know that. When every
// path was a platform source and resources were judged, a hint says how to
// check them as a pull request would.
func writeSources(b *strings.Builder, r *pipeline.Result) {
	if len(r.Sources) == 0 {
		return
	}
	var parts []string
	allPlatform := true
	for _, l := range r.Sources {
		if !l.Source.FromPath {
			return
		}
		allPlatform = allPlatform && l.Source.Role == source.RolePlatform
		part := fmt.Sprintf("%s (%s, role %s", SafeText(l.Source.Name), SafeText(l.Source.Describe()), SafeText(l.Source.Role))
		if l.Source.PolicyDataFrom != "" {
			part += ", policy-data from " + SafeText(l.Source.PolicyDataFrom)
		}
		parts = append(parts, part+")")
	}
	fmt.Fprintf(b, "sources: %s\n", strings.Join(parts, ", "))
	if allPlatform && slices.ContainsFunc(r.Documents, func(d *document.Document) bool { return d.Kind == document.Resource }) {
		b.WriteString(allPlatformHint + "\n")
	}
}

// JSONReport is the shape of `-o json`.
type JSONReport struct {
	Findings       []finding.Finding `json:"findings"`
	Summary        pipeline.Summary  `json:"summary"`
	Resources      []JSONResource    `json:"resources"`
	Sources        []JSONSource      `json:"sources"`
	PolicyRevision string            `json:"policy-revision,omitempty"`
	// Version of the laiki that made the report.
	Version string `json:"laiki-version"`
	// Faults say what kept Laiki from judging (exit 2): the resources are
	// then not checked.
	Faults []string `json:"faults,omitempty"`
}

// JSONResource is the verdict on one resource.
type JSONResource struct {
	Resource string `json:"resource"`
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Source   string `json:"source"`
	Accepted bool   `json:"accepted"`
	// NotChecked: a fault left it without a verdict (Accepted is false).
	NotChecked bool `json:"not-checked,omitempty"`
}

// JSONSource says what was read from one source.
type JSONSource struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	From     string `json:"from"`
	Revision string `json:"revision,omitempty"`
	Files    int    `json:"files"`
	Failed   bool   `json:"failed,omitempty"`
}

// JSON writes the findings, the summary and every resource's verdict.
func JSON(w io.Writer, r *pipeline.Result) error {
	rep := JSONReport{Findings: r.Findings, Summary: r.Summary(), Resources: []JSONResource{}, Sources: []JSONSource{}, Version: version.String(), Faults: r.Faults}
	if rep.Findings == nil {
		rep.Findings = []finding.Finding{}
	}
	if r.Policies != nil {
		rep.PolicyRevision = r.Policies.Revision
	}
	for _, res := range r.Resources {
		rep.Resources = append(rep.Resources, JSONResource{Resource: resourceName(r, res), Type: res.Doc.Type, ID: res.ID,
			File: res.Doc.File, Line: res.Doc.Line, Source: res.Doc.Source.Name, Accepted: res.Accepted, NotChecked: res.NotChecked})
	}
	for _, l := range r.Sources {
		rep.Sources = append(rep.Sources, JSONSource{Name: l.Source.Name, Role: l.Source.Role, From: l.Source.Describe(),
			Revision: l.Revision, Files: len(l.Files), Failed: l.Failed})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func resourceName(r *pipeline.Result, res *pipeline.Resource) string {
	if res.ID != "" {
		return res.Key()
	}
	return fmt.Sprintf("%s %s/%s (%s:%d)", res.Doc.Type, res.Doc.TargetNamespace, res.Doc.TargetName, res.Doc.File, res.Doc.Line)
}

// GitHub writes workflow commands that GitHub Actions shows as annotations on
// the pull request's files. A finding on a file that is not in the checkout
// (a platform file read from Git, another team's repository) is a plain
// command with its source and place in the message: GitHub would put it on
// whatever file of the pull request has that name, or nowhere. A fault is an
// error without a file.
func GitHub(w io.Writer, r *pipeline.Result) error {
	var b strings.Builder
	for _, fault := range r.Faults {
		fmt.Fprintf(&b, "::error title=%s::%s\n", ghProperty("laiki could not run"), ghData(fault))
	}
	at := placesOf(r)
	for _, f := range r.Findings {
		cmd := map[finding.Severity]string{finding.Error: "error", finding.Deny: "error", finding.Warn: "warning"}[f.Severity]
		if cmd == "" {
			cmd = "notice"
		}
		var props []string
		message := f.Message
		if at.annotatable(f.Source, f.File) {
			props = append(props, "file="+ghProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
			if f.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", f.Column))
			}
		} else {
			message = at.located(f)
		}
		title := "laiki"
		if f.Policy != "" {
			title = "laiki: " + f.Policy
		}
		props = append(props, "title="+ghProperty(title))
		fmt.Fprintf(&b, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(message))
	}
	b.WriteString(summaryLine(r.Summary()))
	_, err := io.WriteString(w, b.String())
	return err
}

// Escaping as GitHub's toolkit does it (command.ts).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func sortedPolicies(fs []finding.Finding) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		p := policyID(f)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func policyID(f finding.Finding) string {
	if f.Policy == "" {
		return "laiki"
	}
	return f.Policy
}
