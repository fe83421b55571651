package workflow_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/platformtest"
)

// ecrRender renders a platform whose ShinyProxy target has these laiki-ecr
// keys, and team-a's AwsEcrRepository files.
func ecrRender(t *testing.T, settings string, repos map[string]string) (*workflow.Desired, []string) {
	t.Helper()
	files := map[string]string{
		"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team-a, path: team-a, allow: {target-namespaces: [apps]}}\n",
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: one, namespace: apps}\nlaiki-spec:\n  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n" +
			"  proxy: {title: Apps}\n  laiki-ecr:\n    name-prefix: team-a/\n" + settings,
	}
	for name, spec := range repos {
		files["team-a/"+name+".yaml"] = "laiki-metadata: {resource-type: AwsEcrRepository, target-name: one, target-namespace: apps}\nlaiki-spec:\n  name: " + name + "\n" + spec
	}
	res := runConfig(t, filepath.Join(tree(t, files), "laiki.yaml"))
	d := workflow.RenderAndJudge(res)
	var findings []string
	for _, f := range res.Findings {
		findings = append(findings, f.Message)
	}
	return d, findings
}

func external(d *workflow.Desired, typ, name string) map[string]any {
	for _, x := range d.External {
		if x.Type == typ && x.Name == name {
			return plainOf(x.Desired)
		}
	}
	return nil
}

func plainOf(o workflow.Ordered) map[string]any {
	var m map[string]any
	_ = o.Decode(&m)
	return m
}

// The platform's laiki-ecr reaches the desired state: a one-character name
// under a prefix, an adoption asked for where the platform adopts on
// request, the exclusions, archive instead of expire, and the creation
// template for the prefix.
func TestEcrRender(t *testing.T) {
	settings := "    adopt: on-request\n    tag-mutability: IMMUTABLE_WITH_EXCLUSION\n    tag-mutability-exclusions: [dev-*]\n    lifecycle-action: archive\n" +
		"    creation-template: [CREATE_ON_PUSH]\n    lifecycle-policy:\n      rules:\n        - {rulePriority: 1, selection: {tagStatus: untagged, countType: imageCountMoreThan, countNumber: 3}, action: {type: expire}}\n"
	d, findings := ecrRender(t, settings, map[string]string{"b": "  adopt: true\n"})
	if len(findings) != 0 {
		t.Fatalf("findings: %v", findings)
	}
	b := external(d, "AwsEcrRepository", "team-a/b")
	if b == nil || b["adopt"] != "on-request" || b["adopt-requested"] != true || b["image-tag-mutability"] != "IMMUTABLE_WITH_EXCLUSION" ||
		!strings.Contains(b["lifecycle-policy"].(string), `"targetStorageClass":"archive","type":"transition"`) || strings.Contains(b["lifecycle-policy"].(string), "expire") {
		t.Errorf("repository: %v", b)
	}
	if tm := external(d, "AwsEcrRepositoryCreationTemplate", "team-a"); tm == nil || tm["prefix"] != "team-a" || tm["target"] != "apps/one" {
		t.Errorf("template: %v", tm)
	}
	// A resource asks to adopt where the platform adopts nothing: refused.
	_, findings = ecrRender(t, "", map[string]string{"legacy": "  adopt: true\n"})
	if len(findings) != 1 || !strings.Contains(findings[0], "adopts no existing repository") {
		t.Errorf("an adoption the platform does not allow: %v", findings)
	}
}

// Explain finds a repository under the platform's name prefix (its name
// is not the resource's id) and says where each value comes from: the
// team's adopt at its line, the name as the prefix and the team's name,
// the rest the platform's.
func TestEcrExplainUnderPrefix(t *testing.T) {
	files := map[string]string{
		"laiki.yaml": "sources:\n  - {name: platform, path: platform, role: platform}\n  - {name: team-a, path: team-a, allow: {target-namespaces: [apps]}}\n",
		"platform/sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: one, namespace: apps}\nlaiki-spec:\n  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n" +
			"  proxy: {title: Apps}\n  laiki-ecr:\n    name-prefix: team-a/\n    adopt: on-request\n",
		"team-a/b.yaml": "laiki-metadata: {resource-type: AwsEcrRepository, target-name: one, target-namespace: apps}\nlaiki-spec:\n  name: b\n  adopt: true\n",
	}
	res := platformtest.Run(t, files)
	d := workflow.RenderAndJudge(res)
	ex := workflow.Explain(res, d, "apps", "b")
	if len(ex) != 1 {
		t.Fatalf("explain: %+v", ex)
	}
	by := platformtest.Origins(ex[0])
	for field, want := range map[string]string{
		"repository-name":      "workflow AwsEcrRepositoryWorkflow (the platform's name-prefix before the name at ",
		"adopt-requested":      "file ",
		"image-tag-mutability": "workflow AwsEcrRepositoryWorkflow (a platform setting)",
	} {
		if !strings.HasPrefix(by[field], want) {
			t.Errorf("%s: %q, want %q...", field, by[field], want)
		}
	}
	if !strings.HasSuffix(by["adopt-requested"], "team-a/b.yaml:4:3") {
		t.Errorf("adopt-requested: %q, want the team's adopt at its line", by["adopt-requested"])
	}
}
