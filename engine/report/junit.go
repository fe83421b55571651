package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/version"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr,omitempty"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr,omitempty"`
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
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// junitSkipped marks a resource a fault left without a verdict: neither
// passed nor failed.
type junitSkipped struct {
	Message string `xml:"message,attr"`
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
func JUnit(w io.Writer, r *pipeline.Result) error {
	j := &junitReport{suites: map[string]*junitSuite{}, at: placesOf(r)}
	for _, l := range r.Sources {
		j.suite(l.Source.Name)
	}
	j.addFault(r)
	j.addDocuments(r)
	j.addFiles(r)
	return writeJUnit(w, j.totals())
}

// junitReport gathers the cases of a report in a suite per source, the
// suites in the order they are first named.
type junitReport struct {
	suites map[string]*junitSuite
	order  []string
	at     places
}

// suite is the suite of a source, made when first named.
func (j *junitReport) suite(name string) *junitSuite {
	if s, ok := j.suites[name]; ok {
		return s
	}
	j.suites[name] = &junitSuite{Name: name, Properties: []junitProperty{{Name: "laiki-version", Value: version.String()}}}
	j.order = append(j.order, name)
	return j.suites[name]
}

func (j *junitReport) add(source string, c junitCase) {
	s := j.suite(source)
	s.Cases = append(s.Cases, c)
}

// addFault adds what kept Laiki from judging, as a test case of its own:
// GitLab and Jenkins show an <error> as the run's, not as a team file's.
func (j *junitReport) addFault(r *pipeline.Result) {
	if len(r.Faults) == 0 {
		return
	}
	j.add("laiki", junitCase{Name: "laiki could not run", Classname: "laiki",
		Error: &junitProblem{Message: r.Faults[0], Type: "fault", Text: strings.Join(r.Faults, "\n")}})
}

// addDocuments adds a case for every document, skipped when a fault kept
// its resource from being judged.
func (j *junitReport) addDocuments(r *pipeline.Result) {
	names := map[*document.Document]string{}
	notChecked := map[*document.Document]bool{}
	for _, res := range r.Resources {
		names[res.Doc] = resourceName(r, res)
		notChecked[res.Doc] = res.NotChecked
	}
	for _, d := range r.Documents {
		name, ok := names[d]
		if !ok {
			name = d.Describe()
		}
		c := junitCaseFor(j.at, name, d.Source.Name, d.File, d.Line, r.FindingsFor(d))
		if notChecked[d] {
			c.Skipped = &junitSkipped{Message: "not checked: " + strings.Join(r.Faults, "; ")}
		}
		j.add(d.Source.Name, c)
	}
}

// addFiles adds a case for each file with blocking findings that are not
// about a document: bad YAML, unreadable sources.
func (j *junitReport) addFiles(r *pipeline.Result) {
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
		j.add(fs[0].Source, junitCaseFor(j.at, j.at.name(fs[0].Source, fs[0].File), fs[0].Source, fs[0].File, fs[0].Line, fs))
	}
}

// totals counts the cases of every suite, and of them all.
func (j *junitReport) totals() junitSuites {
	out := junitSuites{Name: "laiki"}
	for _, name := range j.order {
		s := j.suites[name]
		for _, c := range s.Cases {
			s.Tests++
			if c.Failure != nil {
				s.Failures++
			}
			if c.Error != nil {
				s.Errors++
			}
			if c.Skipped != nil {
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, *s)
	}
	return out
}

// writeJUnit writes the report as indented XML, with its header.
func writeJUnit(w io.Writer, out junitSuites) error {
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
	return fmt.Sprintf("%s|%s|%d|%d|%s|%s|%s", f.Source, f.File, f.Line, f.Column, f.Severity, f.Policy, f.Message)
}

// junitCaseFor makes the case of one document or file: its class is the
// file as the reader names it (team-one:app.yaml), and the file attribute,
// which CI servers link to the repository, is set only for a file of the
// checkout.
func junitCaseFor(at places, name, src, file string, line int, fs []finding.Finding) junitCase {
	c := junitCase{Name: name, Classname: at.name(src, file)}
	if at.annotatable(src, file) {
		c.File, c.Line = file, line
	}
	var denials, errs, other []string
	for _, f := range fs {
		text := fmt.Sprintf("%s: %s: %s [%s]", at.where(f.Source, f.Location), f.Severity, f.Message, policyID(f))
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
