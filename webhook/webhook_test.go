package webhook

import (
	"testing"

	"github.com/laiki-platform/laiki/engine/finding"
	"github.com/laiki-platform/laiki/engine/pipeline"
)

// Every answer names the policy revision that made it, in the API server's
// audit log; a denial carries the blocking findings, warnings the others.
func TestVerdictRecordsPolicyRevision(t *testing.T) {
	all := func(finding.Finding) bool { return true }
	v := pipeline.Verdict{Allowed: false, PolicyRevision: "abc123", Findings: []finding.Finding{
		{Severity: finding.Deny, Policy: "laiki.governance.x", Message: "no"},
		{Severity: finding.Warn, Policy: "laiki.governance.x", Message: "careful"},
	}}
	resp := verdict(v, all)
	if resp.Allowed || resp.AuditAnnotations["policy-revision"] != "abc123" || resp.Result.Message != "[laiki.governance.x] no" || len(resp.Warnings) != 1 {
		t.Errorf("denial: %+v", resp.AdmissionResponse)
	}
	v = pipeline.Verdict{Allowed: true, PolicyRevision: "abc123"}
	if resp := verdict(v, all); !resp.Allowed || resp.AuditAnnotations["policy-revision"] != "abc123" {
		t.Errorf("allowed: %+v", resp.AdmissionResponse)
	}
}
