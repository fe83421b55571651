package pipeline

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

// A namespace that is a DNS label but has the shape of a mapped name
// (team-0123456789) is mapped by kube.Name too, so that no name passes
// through onto a mapped one: the warning that says where its objects go
// must come for it as for any other mapped name.
func TestMappedNamespaceWarned(t *testing.T) {
	ns := "team-0123456789"
	text := "laiki-metadata:\n  target-type: PrePuller\n  name: p\n  namespace: " + ns + "\nlaiki-spec: {}\n"
	parsed := document.Parse(document.SourceRef{Name: "p", Role: "platform"}, "p.yaml", []byte(text), document.DefaultLimits)
	if len(parsed.Documents) != 1 {
		t.Fatalf("parsed %d documents: %v", len(parsed.Documents), parsed.Findings)
	}
	for _, f := range checkTarget(parsed.Documents[0]) {
		if f.Policy == finding.CheckNaming && strings.Contains(f.Message, "not a valid Kubernetes namespace") {
			return
		}
	}
	t.Errorf("namespace %s is mapped without a warning: %s", ns, fmtFindings(checkTarget(parsed.Documents[0])))
}

func fmtFindings(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n" + f.Location.String() + ": " + f.Message)
	}
	return b.String()
}
