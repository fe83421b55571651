package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/policy"
)

// A platform rule as it comes from a platform source: its METADATA is what
// a SARIF report says about the rule.
const documentedRule = `# METADATA
# title: Images from our registry
# description: |
#   Apps pull their images from registry.example.com, which scans them.
#   Ask the platform team to mirror any other image.
# related_resources:
#   - ref: https://wiki.example.com/registry
#     description: how to push an image to our registry
#   - ref: https://wiki.example.com/mirroring
package laiki.governance.registry

deny contains {"msg": "not from our registry", "field": ["container-image"]} if {
	not startswith(input["laiki-spec"]["container-image"], "registry.example.com/")
}
`

func compileDocs(t *testing.T, platform ...policy.Module) *policy.Policies {
	t.Helper()
	p, err := policy.Compile(context.Background(), platform, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDocOfAPlatformPolicy(t *testing.T) {
	p := compileDocs(t, policy.Module{File: "policies/registry.rego", Source: "platform", Text: []byte(documentedRule)})
	d, ok := p.Doc("laiki.governance.registry")
	want := policy.RuleDoc{
		Title: "Images from our registry",
		// Without the newline that ends a YAML block.
		Description: "Apps pull their images from registry.example.com, which scans them.\nAsk the platform team to mirror any other image.",
		Related:     []string{"https://wiki.example.com/registry", "https://wiki.example.com/mirroring"},
	}
	if !ok || !reflect.DeepEqual(d, want) {
		t.Errorf("Doc = %#v, %v; want %#v", d, ok, want)
	}

	// The set is shared: what one caller does with Related stays its own.
	d.Related[0] = "changed"
	if again, _ := p.Doc("laiki.governance.registry"); again.Related[0] != "https://wiki.example.com/registry" {
		t.Errorf("a caller changed the set's docs: %v", again.Related)
	}
}

func TestDocWithoutMetadata(t *testing.T) {
	p := compileDocs(t, mods("p/tags.rego", latestRule)...)
	for _, pkg := range []string{"laiki.governance.tags", "laiki.governance.nothing", finding.CheckSource, ""} {
		if d, ok := p.Doc(pkg); ok {
			t.Errorf("Doc(%q) = %#v, true; it has no METADATA", pkg, d)
		}
	}
	var none *policy.Policies
	if d, ok := none.Doc("laiki.governance.baseline"); ok {
		t.Errorf("nil Policies: Doc = %#v, true", d)
	}
}

func TestDocOfTheBaseline(t *testing.T) {
	p := compileDocs(t)
	d, ok := p.Doc("laiki.governance.baseline")
	if !ok || d.Title != "Security baseline" || !strings.HasPrefix(d.Description, "Apps from team sources cannot reach platform-level power") {
		t.Errorf("Doc(baseline) = %#v, %v", d, ok)
	}
	want := []string{"https://github.com/laiki-platform/laiki/blob/main/docs/policies.md#laikigovernancebaseline-governance"}
	if !reflect.DeepEqual(d.Related, want) {
		t.Errorf("Related = %v, want %v", d.Related, want)
	}
	if d, ok := p.Doc("laiki.preprocessors.ShinyProxyAppDefaultsPreProcessor"); !ok || d.Title != "ShinyProxyAppDefaultsPreProcessor" || len(d.Related) == 0 {
		t.Errorf("Doc(defaults pre-processor) = %#v, %v", d, ok)
	}
}

// A built-in policy ships with a title and a description for every report
// that names it, and its links lead to a heading of the project's docs.
func TestEveryBuiltinPolicyIsDocumented(t *testing.T) {
	p := compileDocs(t)
	builtins, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	const docsURL = "https://github.com/laiki-platform/laiki/blob/main/"
	for _, m := range builtins {
		mod, err := ast.ParseModuleWithOpts(m.File, string(m.Text), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(mod.Package.Path.String(), "data.")
		d, ok := p.Doc(pkg)
		if !ok || d.Title == "" || d.Description == "" {
			t.Errorf("%s: package %s needs a METADATA block with a title and a description: %#v", m.File, pkg, d)
		}
		for _, ref := range d.Related {
			file, anchor, _ := strings.Cut(strings.TrimPrefix(ref, docsURL), "#")
			if !strings.HasPrefix(ref, docsURL) {
				continue // another site's: not ours to check
			}
			if anchors, err := headings(filepath.Join("..", "..", filepath.FromSlash(file))); err != nil {
				t.Errorf("%s: related resource %s: %v", m.File, ref, err)
			} else if anchor != "" && !anchors[anchor] {
				t.Errorf("%s: related resource %s: %s has no heading #%s", m.File, ref, file, anchor)
			}
		}
	}
}

// headings gives the anchors GitHub makes for a Markdown file's headings:
// lower case, punctuation dropped, spaces as hyphens.
func headings(file string) (map[string]bool, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	anchors := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced // a `# comment` in a code block is no heading
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")] = true
	}
	return anchors, nil
}

// A package split over files, rules with METADATA of their own, and an
// enclosing package's subpackages METADATA: each field is the first one
// found, the package's own first, then its reporting rules', then the
// enclosing package's.
func TestDocMergesWhereMetadataIs(t *testing.T) {
	const tagsA = `# METADATA
# title: Image tags
package laiki.governance.tags

# METADATA
# title: A helper
# description: Not what a finding is about.
latest(image) if endswith(image, ":latest")

# METADATA
# title: No latest tag
# description: An image tagged latest changes under the app.
deny contains "latest" if latest(input["laiki-spec"]["container-image"])
`
	const tagsB = `package laiki.governance.tags

# METADATA
# description: From a file further down the list.
warn contains "no tag" if not contains(input["laiki-spec"]["container-image"], ":")

# METADATA
# title: Pinned by digest
# description: Images are pinned by digest.
deny_undigested contains "no digest" if not contains(input["laiki-spec"]["container-image"], "@")

warn_short contains "short" if count(input["laiki-spec"]["container-image"]) < 3
`
	const governance = `# METADATA
# scope: subpackages
# description: ACME's rules.
# related_resources:
#   - ref: https://wiki.example.com/policies
package laiki.governance
`
	const labels = `package laiki.preprocessors.Labels

# METADATA
# title: Team labels
spec := input["laiki-spec"]
`
	files := mods("p/tags_a.rego", tagsA, "p/tags_b.rego", tagsB, "p/governance.rego", governance, "p/labels.rego", labels)
	wiki := []string{"https://wiki.example.com/policies"}
	p := compileDocs(t, files...)
	for _, c := range []struct {
		policy string
		want   policy.RuleDoc
	}{
		{"laiki.governance.tags", policy.RuleDoc{Title: "Image tags", Description: "An image tagged latest changes under the app.", Related: wiki}},
		// deny_undigested reports as a policy of its own, in its own words.
		{"laiki.governance.tags.deny_undigested", policy.RuleDoc{Title: "Pinned by digest", Description: "Images are pinned by digest.", Related: wiki}},
		// warn_short has none: its package's, not those of tags' deny.
		{"laiki.governance.tags.warn_short", policy.RuleDoc{Title: "Image tags", Description: "ACME's rules.", Related: wiki}},
		{"laiki.governance", policy.RuleDoc{Description: "ACME's rules.", Related: wiki}},
		// A rule gives a title to a package that has none; the wiki is
		// governance's, not the pre-processors'.
		{"laiki.preprocessors.Labels", policy.RuleDoc{Title: "Team labels"}},
	} {
		if d, ok := p.Doc(c.policy); !ok || !reflect.DeepEqual(d, c.want) {
			t.Errorf("Doc(%s) = %#v, %v; want %#v", c.policy, d, ok, c.want)
		}
	}

	// METADATA of scope document is about every one of the rules of that
	// name, so it speaks for the package before one rule's, wherever it is.
	files[1].Text = []byte(strings.Replace(tagsB, "# METADATA\n# description: From", "# METADATA\n# scope: document\n# description: From", 1))
	p = compileDocs(t, files...)
	if d, _ := p.Doc("laiki.governance.tags"); d.Description != "From a file further down the list." {
		t.Errorf("document scope: Description = %q", d.Description)
	}
}

// There is nothing to choose between two package METADATA blocks: OPA
// refuses the second, with both places.
func TestTwoPackageMetadataBlocksAreRefused(t *testing.T) {
	const a = "# METADATA\n# title: One\npackage laiki.governance.split\n\ndeny contains \"a\" if input.a\n"
	const b = "# METADATA\n# title: Two\npackage laiki.governance.split\n\nwarn contains \"b\" if input.b\n"
	_, err := policy.Compile(context.Background(), mods("p/a.rego", a, "p/b.rego", b), nil)
	var ce *policy.CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "redeclared") {
		t.Errorf("Compile = %v, want the second METADATA refused", err)
	}
}
