package policies_test

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/laiki-platform/laiki/policies"
)

// TestRegoPolicies runs the Rego tests of the built-in policies (every .rego
// file of policies.FS, policies and *_test.rego alike), each as a Go subtest.
func TestRegoPolicies(t *testing.T) {
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		text, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		// As the engine parses them (engine/admission): Rego v1, with annotations.
		m, err := ast.ParseModuleWithOpts("policies/"+p, string(text), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			return err
		}
		if m != nil {
			modules["policies/"+p] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) == 0 {
		t.Fatal("no .rego files in policies.FS")
	}

	compiler := ast.NewCompiler().
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	ch, err := tester.NewRunner().
		SetCompiler(compiler).
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(modules).
		EnableTracing(false).
		RunTests(context.Background(), nil)
	if err != nil {
		t.Fatalf("compiling the policies: %v", err)
	}

	// Results come in any order: sort them so that -v lists them steadily.
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	sort.Slice(results, func(i, j int) bool {
		if results[i].Package != results[j].Package {
			return results[i].Package < results[j].Package
		}
		return results[i].Name < results[j].Name
	})

	for _, r := range results {
		t.Run(strings.TrimPrefix(r.Package, "data.")+"."+r.Name, func(t *testing.T) {
			loc := "?"
			if r.Location != nil {
				loc = r.Location.String()
			}
			if len(r.Output) > 0 {
				t.Logf("print output:\n%s", r.Output)
			}
			switch {
			case r.Error != nil:
				t.Errorf("%s: %s.%s: error: %v", loc, r.Package, r.Name, r.Error)
			case r.Fail:
				msg := ""
				if e := r.FailedAt; e != nil {
					msg = "; failed at " + e.String()
					if e.Location != nil {
						msg = "; failed at " + e.Location.String() + ": " + e.String()
					}
				}
				t.Errorf("%s: %s.%s: FAIL%s", loc, r.Package, r.Name, msg)
			case r.Skip:
				t.Skipf("%s: %s.%s: skipped (todo_ test)", loc, r.Package, r.Name)
			}
		})
	}
	if len(results) == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("%d Rego tests ran", len(results))
}
