package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/version"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitProperty says which laiki made the report.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes one test case per Laiki document (every resource, and the
// targets and pre-processors it depends on), grouped in a suite per source,
// plus a case for each file that could not be read: a denial is a failure,
// an error is an error, warnings go to system-out.
func JUnit(w io.Writer, r *engine.Result) error {
	suites := map[string]*junitSuite{}
	var order []string
	suite := func(name string) *junitSuite {
		if s, ok := suites[name]; ok {
			return s
		}
		suites[name] = &junitSuite{Name: name, Properties: []junitProperty{{Name: "laiki-version", Value: version.String()}}}
		order = append(order, name)
		return suites[name]
	}
	for _, l := range r.Sources {
		suite(l.Source.Name)
	}
	names := map[*document.Document]string{}
	for _, res := range r.Resources {
		names[res.Doc] = resourceName(r, res)
	}
	for _, d := range r.Documents {
		name, ok := names[d]
		if !ok {
			name = d.Describe()
		}
		suite(d.Source.Name).Cases = append(suite(d.Source.Name).Cases, junitCaseFor(name, d.File, d.Line, r.FindingsFor(d)))
	}
	// Findings not about a document: bad YAML, unreadable sources.
	inDoc := map[string]bool{}
	for _, d := range r.Documents {
		for _, f := range r.FindingsFor(d) {
			inDoc[key(f)] = true
		}
	}
	byFile := map[string][]finding.Finding{}
	var files []string
	for _, f := range r.Findings {
		if inDoc[key(f)] || !f.Severity.Blocking() {
			continue
		}
		id := f.Source + "\x00" + f.File
		if _, ok := byFile[id]; !ok {
			files = append(files, id)
		}
		byFile[id] = append(byFile[id], f)
	}
	for _, id := range files {
		fs := byFile[id]
		suite(fs[0].Source).Cases = append(suite(fs[0].Source).Cases, junitCaseFor(fs[0].File, fs[0].File, fs[0].Line, fs))
	}

	out := junitSuites{Name: "laiki"}
	for _, name := range order {
		s := suites[name]
		for _, c := range s.Cases {
			s.Tests++
			if c.Failure != nil {
				s.Failures++
			}
			if c.Error != nil {
				s.Errors++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func key(f finding.Finding) string {
	return fmt.Sprintf("%s|%d|%d|%s|%s|%s", f.File, f.Line, f.Column, f.Severity, f.Policy, f.Message)
}

func junitCaseFor(name, file string, line int, fs []finding.Finding) junitCase {
	c := junitCase{Name: name, Classname: file, File: file, Line: line}
	var denials, errs, other []string
	for _, f := range fs {
		text := fmt.Sprintf("%s: %s: %s [%s]", f.Location, f.Severity, f.Message, policyID(f))
		switch f.Severity {
		case finding.Deny:
			denials = append(denials, text)
		case finding.Error:
			errs = append(errs, text)
		default:
			other = append(other, text)
		}
	}
	if len(errs) > 0 {
		c.Error = &junitProblem{Message: first(fs, finding.Error), Type: "error", Text: strings.Join(errs, "\n")}
	}
	if len(denials) > 0 {
		c.Failure = &junitProblem{Message: first(fs, finding.Deny), Type: "deny", Text: strings.Join(denials, "\n")}
	}
	c.SystemOut = strings.Join(other, "\n")
	return c
}

func first(fs []finding.Finding, sev finding.Severity) string {
	for _, f := range fs {
		if f.Severity == sev {
			return f.Message
		}
	}
	return ""
}
