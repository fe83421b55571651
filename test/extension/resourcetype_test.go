// Package extension shows that a type is one file: the test below adds a
// resource type to Laiki from its test file alone (a package of its own, so
// that no other test sees it).
package extension

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/schema"
	"github.com/laiki-platform/laiki/engine/types"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/platformtest"
)

// A new resource type is its API type plus one file that registers the rest:
// this file is that file for TestDnsRecord, a DNS record per app in the
// platform's zone. Nothing else in Laiki names it.

// testDNSRecordSpec is the type's API (its laiki-spec).
type testDNSRecordSpec struct {
	Host string `json:"host" laiki:"required"`
	TTL  int    `json:"ttl,omitempty"`
}

// testDNSRecord is its desired state, as rendered and as a provisioner
// would read it back (workflow.DecodeExternal).
type testDNSRecord struct {
	FQDN string `json:"fqdn" yaml:"fqdn"`
	TTL  int    `json:"ttl" yaml:"ttl"`
}

const testDNSSettings = "laiki-test-dns"

func init() {
	types.RegisterResource(&types.ResourceType{
		Name:        "TestDnsRecord",
		Kind:        "TestDnsRecord",
		TargetTypes: []string{"ShinyProxy"},
		IdentityKey: "host",
		Schema:      schema.FromGoType("TestDnsRecord", reflect.TypeOf(testDNSRecordSpec{}), finding.Error),
		// The platform's zone, on the ShinyProxy target.
		Settings: testDNSSettings,
		CheckSettings: func(v any) []schema.Problem {
			m, _ := v.(map[string]any)
			if zone, _ := m["zone"].(string); !strings.HasSuffix(zone, ".") {
				return []schema.Problem{{Path: []string{"zone"}, Severity: finding.Error, Message: "zone must be fully qualified (end with a dot)"}}
			}
			return nil
		},
	})
	workflow.Register(&workflow.Workflow{
		Name: "DnsRecordWorkflow", TargetType: "ShinyProxy", After: []string{"ShinyProxyAppToShinyProxyWorkflow"},
		Renders: "TestDnsRecord", Renames: map[string]string{"fqdn": "host"},
		Render: func(c *workflow.Context, t *document.Document, _ *workflow.Target, d *workflow.Desired) []finding.Finding {
			spec, _ := t.Spec.(map[string]any)
			settings, _ := spec[testDNSSettings].(map[string]any)
			zone, _ := settings["zone"].(string)
			for _, r := range c.Bound(t, "TestDnsRecord") {
				own, _ := r.Spec.(map[string]any)
				ttl, _ := own["ttl"].(int)
				rec := testDNSRecord{FQDN: r.ID + "." + zone, TTL: max(ttl, 300)}
				var n yaml.Node
				if err := n.Encode(rec); err != nil {
					panic(err)
				}
				d.External = append(d.External, workflow.External{Type: "TestDnsRecord", Name: rec.FQDN, TargetName: t.Name, TargetNamespace: t.Namespace,
					Source: r.Doc.Source.Name, File: r.Doc.File, Resource: r.Key(), Desired: workflow.Ordered{Node: &n}})
			}
			return nil
		},
		Explain: func(r *pipeline.Resource, _ []string, _ any) string {
			if r.Doc.Type != "TestDnsRecord" {
				return ""
			}
			return "the platform's zone and minimum TTL"
		},
	})
}

// TestDnsRecord is checked, rendered and explained end to end, without any
// edit outside this file: its spec by its schema, the target's settings by
// its check at their line, its settings kept out of ShinyProxy's
// configuration, its desired state read back as its Go type, its fields
// explained by its workflow, which runs where its After puts it.
func TestResourceTypeFromOneFile(t *testing.T) {
	platform := "laiki-metadata: {target-type: ShinyProxy, name: one, namespace: apps}\nlaiki-spec:\n  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n" +
		"  proxy: {title: Apps}\n  laiki-test-dns:\n    zone: %s\n"
	render := func(zone string, records map[string]string) (*pipeline.Result, *workflow.Desired) {
		files := map[string]string{
			"laiki.yaml":       "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team-a, path: team-a, allow: {target-namespaces: [apps]}}\n",
			"platform/sp.yaml": strings.Replace(platform, "%s", zone, 1),
		}
		for name, spec := range records {
			files["team-a/"+name+".yaml"] = "laiki-metadata: {resource-type: TestDnsRecord, target-name: one, target-namespace: apps}\nlaiki-spec:\n" + spec
		}
		res := platformtest.Run(t, files)
		return res, workflow.RenderAndJudge(res)
	}

	// Checked: a spec its schema refuses, at its line; settings its check
	// refuses, at theirs.
	res, _ := render("example.com", map[string]string{"web": "  host: web\n", "bad": "  host: bad\n  ttl: soon\n"})
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Location.String()+" "+f.Message)
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "team-a/bad.yaml:4:3") || !strings.Contains(all, "platform/sp.yaml:8:5 ") || !strings.Contains(all, "zone must be fully qualified") {
		t.Errorf("findings:\n%s", all)
	}

	// Rendered: the record, as its Go type; the settings are not ShinyProxy's.
	res, d := render("example.com.", map[string]string{"web": "  host: web\n  ttl: 60\n"})
	if len(res.Findings) != 0 {
		t.Fatalf("findings: %+v", res.Findings)
	}
	var rec testDNSRecord
	if len(d.External) != 1 || workflow.DecodeExternal(d.External[0], &rec) != nil || rec != (testDNSRecord{FQDN: "web.example.com.", TTL: 300}) {
		t.Fatalf("external: %+v, decoded %+v", d.External, rec)
	}
	sp := d.Targets[0]
	out, err := yaml.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), testDNSSettings) {
		t.Errorf("the type's settings reach ShinyProxy:\n%s", out)
	}
	if want := []string{"AwsEcrRepositoryWorkflow", "ShinyProxyAppToShinyProxyWorkflow", "DnsRecordWorkflow"}; !reflect.DeepEqual(sp.Workflows, want) {
		t.Errorf("workflows ran %v, want %v (DnsRecordWorkflow after ShinyProxy's, as its After says, though its name comes first)", sp.Workflows, want)
	}

	// Explained: the name the user wrote, the rest by the workflow.
	ex := workflow.Explain(res, d, "apps", "web")
	if len(ex) != 1 {
		t.Fatalf("explain: %+v", ex)
	}
	by := platformtest.Origins(ex[0])
	if !strings.HasPrefix(by["fqdn"], "workflow DnsRecordWorkflow (the platform's zone") || by["ttl"] != "workflow DnsRecordWorkflow (the platform's zone and minimum TTL)" {
		t.Errorf("explained: %v", by)
	}
}
