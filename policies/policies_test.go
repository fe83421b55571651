package policies_test

import (
	"context"
	"strings"
	"testing"

	"github.com/laiki-platform/laiki/engine/policy"
)

// TestRegoPolicies runs the Rego tests of the built-in policies, through the
// runner of `laiki policy test` (the engine's built-ins and Rego version),
// each as a Go subtest, and requires every line of the policies covered.
func TestRegoPolicies(t *testing.T) {
	report, err := policy.Test(context.Background(), nil, nil, policy.TestOptions{Coverage: true})
	if err != nil {
		t.Fatalf("compiling the policies: %v", err)
	}
	if len(report.Results) == 0 {
		t.Fatal("no Rego tests ran")
	}
	for _, r := range report.Results {
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
				if e := r.FailedAt; e != nil && e.Location != nil {
					msg = "; failed at " + e.Location.String() + ": " + e.String()
				}
				t.Errorf("%s: %s.%s: FAIL%s", loc, r.Package, r.Name, msg)
			case r.Skip:
				t.Skipf("%s: %s.%s: skipped (todo_ test)", loc, r.Package, r.Name)
			}
		})
	}
	for file, fr := range report.Coverage.Files {
		if fr.Coverage < 100 {
			t.Errorf("%s: %.1f%% covered by its tests; lines not reached: %v", file, fr.Coverage, fr.NotCovered)
		}
	}
	t.Logf("%d Rego tests ran; coverage %.1f%%", len(report.Results), report.Coverage.Coverage)
}
