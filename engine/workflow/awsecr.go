package workflow

import (
	"encoding/json"
	"strings"

	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/types"
)

func init() {
	Register(&Workflow{Name: "AwsEcrRepositoryWorkflow", TargetType: "ShinyProxy", Render: renderEcr})
}

// renderEcr lists the desired state of every AwsEcrRepository bound to the
// target. The settings are the platform's (the target's laiki-ecr): a team
// file chooses only the name, so tag immutability, scanning and encryption
// cannot be forgotten or loosened. Making the repositories in AWS is the
// apply step's work (reconcile/ecr.go).
func renderEcr(c *Context, t *document.Document, _ *Target, d *Desired) []finding.Finding {
	spec, _ := t.Spec.(map[string]any)
	settings, _ := spec["laiki-ecr"].(map[string]any)
	str := func(k string) string { s, _ := settings[k].(string); return s }
	var fs []finding.Finding
	for _, r := range c.Bound(t, "AwsEcrRepository") {
		name := joinPrefix(str("name-prefix"), r.ID)
		// The prefix is the platform's, so the name is checked again with
		// it, before anything is asked of AWS.
		if problem := types.CheckEcrName(name); problem != "" {
			f := errorAt(r.Doc, "laiki-spec.name", CheckWorkflow, "with the platform's name prefix %q: %s", str("name-prefix"), problem)
			f.Resource = r.Key()
			fs = append(fs, f)
			continue
		}
		encryption := mapping("encryption-type", "AES256")
		if key := str("kms-key"); key != "" {
			encryption = mapping("encryption-type", "KMS", "kms-key", key)
		}
		// Settings the platform leaves out stay out (the SDK's default
		// region, the caller's account, no policy).
		var kv []any
		for _, p := range [][2]any{
			{"repository-name", name},
			{"region", str("region")},
			{"registry-id", str("registry-id")},
			{"image-tag-mutability", "IMMUTABLE"},
			{"image-scanning-configuration", mapping("scan-on-push", true)},
			{"encryption-configuration", encryption},
			{"lifecycle-policy", policyText(settings["lifecycle-policy"])},
			{"repository-policy", policyText(settings["repository-policy"])},
			{"on-delete", orDefault(str("on-delete"), "keep")},
			{"tags", mapping(
				"app.kubernetes.io/managed-by", "laiki",
				"laiki.io/resource", r.Key(),
				"laiki.io/source", r.Doc.Source.Name,
				"laiki.io/target", t.Namespace+"/"+t.Name,
			)},
		} {
			if p[1] != "" {
				kv = append(kv, p[0], p[1])
			}
		}
		desired := mapping(kv...)
		d.External = append(d.External, External{
			Type: "AwsEcrRepository", Name: name, TargetName: t.Name, TargetNamespace: t.Namespace,
			Source: r.Doc.Source.Name, File: r.Doc.File, Resource: r.Key(), Desired: Ordered{desired},
			// One name is one repository in a registry and region, whichever
			// target and prefix made it.
			Scope: str("region") + "/" + str("registry-id"),
		})
	}
	return fs
}

// policyText is a policy document as the ECR API takes it: JSON text, with
// its keys in a stable order (empty when there is none).
func policyText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// joinPrefix joins the platform's name prefix and a name as path segments:
// team-a and team-a/ both give team-a/NAME.
func joinPrefix(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return strings.TrimSuffix(prefix, "/") + "/" + name
}
