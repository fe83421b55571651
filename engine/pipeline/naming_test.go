package pipeline

import (
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
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

// A decision names everything it was made from: the same resource under a
// pre-processor of the same file and text but read from another source
// (a platform repository moved, a path one source shares with another) is
// another decision, since its findings name the pre-processor's source.
func TestDecisionKeyNamesPreProcessorSource(t *testing.T) {
	read := func(source, file, text string) *document.Document {
		t.Helper()
		parsed := document.Parse(document.SourceRef{Name: source, Role: "platform"}, file, []byte(text), document.DefaultLimits)
		if len(parsed.Documents) != 1 {
			t.Fatalf("parsed %d documents: %v", len(parsed.Documents), parsed.Findings)
		}
		return parsed.Documents[0]
	}
	app := read("team", "app.yaml", "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec: {id: a}\n")
	target := read("platform", "sp.yaml", "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec: {}\n")
	pp := "laiki-metadata: {pre-processor-name: ShinyProxyAppDefaultsPreProcessor, name: d, target-namespace: apps}\nlaiki-spec: {}\n"
	x := &Index{Policies: &policy.Policies{Revision: "r"}}
	res := &Resource{Doc: app, Target: target}
	one := x.decisionKey(res, []*document.Document{read("platform-a", "defaults.yaml", pp)})
	other := x.decisionKey(res, []*document.Document{read("platform-b", "defaults.yaml", pp)})
	if one == "" || one == other {
		t.Errorf("a pre-processor from another source gives the same decision key")
	}
}
