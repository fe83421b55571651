package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// The validating webhook gives the verdict check and the operator give: an
// app that would make the API server refuse its target's whole ShinyProxy
// resource (a value of the type the operator's CRD does not take) is
// refused at kubectl apply, not accepted and then left out of the render.
func TestWebhookRefusesWhatTheCRDRefuses(t *testing.T) {
	adm := newAdmission(t, cachePlatform(t), -1, nil)
	bad := edit(appObject(0), func(_, _, spec map[string]any) { spec["containerMemory"] = 512 })
	resp := (Validator{adm}).Handle(context.Background(), request(t, admissionv1.Create, "paula", bad, nil))
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "containerMemory") {
		t.Errorf("want a refusal naming containerMemory, got %+v", resp.AdmissionResponse)
	}
	good := edit(appObject(0), func(_, _, spec map[string]any) { spec["containerMemory"] = "512Mi" })
	if resp := (Validator{adm}).Handle(context.Background(), request(t, admissionv1.Create, "paula", good, nil)); !resp.Allowed {
		t.Errorf("a string is what the CRD takes: %+v", resp.AdmissionResponse)
	}
}
