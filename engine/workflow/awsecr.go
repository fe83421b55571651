package workflow

import (
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/finding"
)

func init() {
	Register(&Workflow{Name: "AwsEcrRepositoryWorkflow", TargetType: "ShinyProxy", Render: renderEcr})
}

// renderEcr lists the desired state of every AwsEcrRepository bound to the
// target. The settings are the platform's: a team file chooses only the name,
// so tag immutability, scanning and encryption cannot be forgotten.
// Creating the repositories in AWS is the apply step's work.
func renderEcr(c *Context, t *document.Document, _ *Target, d *Desired) []finding.Finding {
	for _, r := range c.Bound(t, "AwsEcrRepository") {
		d.External = append(d.External, External{
			Type: "AwsEcrRepository", Name: r.ID, TargetName: t.Name, TargetNamespace: t.Namespace,
			Source: r.Doc.Source.Name, File: r.Doc.File,
			Desired: Ordered{mapping(
				"repository-name", r.ID,
				"image-tag-mutability", "IMMUTABLE",
				"image-scanning-configuration", mapping("scan-on-push", true),
				"encryption-configuration", mapping("encryption-type", "AES256"),
				"tags", mapping(
					"app.kubernetes.io/managed-by", "laiki",
					"laiki.io/resource", r.Key(),
					"laiki.io/source", r.Doc.Source.Name,
				),
			)},
		})
	}
	return nil
}
