package report

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/laiki-platform/laiki/engine"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/version"
)

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name,omitempty"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
	// Kept per finding so that code scanning tracks the same alert across
	// pushes even when lines move.
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
}

type sarifLocation struct {
	ID               int           `json:"id,omitempty"`
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          *sarifMessage `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

func sarifLoc(l finding.Location) sarifLocation {
	line := l.Line
	if line < 1 {
		line = 1 // code scanning requires a line; the file's start is the honest default
	}
	return sarifLocation{PhysicalLocation: sarifPhysical{
		ArtifactLocation: sarifArtifact{URI: strings.TrimPrefix(l.File, "./")},
		Region:           sarifRegion{StartLine: line, StartColumn: l.Column},
	}}
}

// SARIF writes a SARIF 2.1.0 log with one result per finding.
func SARIF(w io.Writer, r *engine.Result) error {
	rules := sortedPolicies(r.Findings)
	index := map[string]int{}
	driver := sarifDriver{Name: "laiki", Version: version.String(), InformationURI: "https://github.com/laiki-platform/laiki", Rules: []sarifRule{}}
	for i, id := range rules {
		index[id] = i
		driver.Rules = append(driver.Rules, sarifRule{ID: id, Name: id, ShortDescription: sarifMessage{Text: ruleDescription(id)}})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		level := map[finding.Severity]string{finding.Error: "error", finding.Deny: "error", finding.Warn: "warning"}[f.Severity]
		if level == "" {
			level = "note"
		}
		res := sarifResult{RuleID: policyID(f), RuleIndex: index[policyID(f)], Level: level, Message: sarifMessage{Text: f.Message}}
		if f.File != "" {
			res.Locations = []sarifLocation{sarifLoc(f.Location)}
			res.PartialFingerprints = map[string]string{"laikiFinding/v1": fingerprint(f)}
		}
		for i, rel := range f.Related {
			l := sarifLoc(rel)
			l.ID = i + 1
			res.RelatedLocations = append(res.RelatedLocations, l)
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func fingerprint(f finding.Finding) string {
	return f.File + "|" + f.Resource + "|" + f.Policy + "|" + f.Field + "|" + f.Message
}

func ruleDescription(id string) string {
	switch id {
	case finding.CheckDocument:
		return "Laiki document structure"
	case finding.CheckSource:
		return "Reading sources"
	case finding.CheckAccess:
		return "Source access control"
	case finding.CheckSchema:
		return "Spec schema"
	case finding.CheckBinding:
		return "Binding to targets and pre-processors"
	case finding.CheckIdentity:
		return "Unique identities"
	case finding.CheckNaming:
		return "Names Kubernetes can use"
	}
	return "Rego policy " + id
}
