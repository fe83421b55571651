package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/laiki-platform/laiki/engine/api/v1alpha1"
	"github.com/laiki-platform/laiki/engine/document"
	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/platformtest"
)

// A platform whose targets name their Kubernetes namespaces, apart from
// their Laiki namespace Apps: ShinyProxy in shiny, the PrePuller in pulling.
func chosenNamespaces(t *testing.T) *Run {
	t.Helper()
	files := map[string]string{
		"sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: Apps}\nlaiki-spec:\n  laiki-kubernetes-namespace: shiny\n" +
			"  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n  proxy: {containerBackend: kubernetes}\n",
		"puller.yaml": "laiki-metadata: {target-type: PrePuller, name: pull, namespace: Apps}\nlaiki-spec:\n  laiki-kubernetes-namespace: pulling\n",
		"app.yaml":    "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: Apps}\nlaiki-spec:\n  id: demo\n  container-image: registry.example.com/demo:1\n",
	}
	res := platformtest.RunPaths(t, files)
	if res.Failed() {
		t.Fatalf("findings: %v", res.Findings)
	}
	return &Run{Result: res, Desired: workflow.Render(res)}
}

func targetDoc(t *testing.T, run *Run, typ string) *document.Document {
	t.Helper()
	for _, d := range run.Result.Targets {
		if d.Type == typ {
			return d
		}
	}
	t.Fatalf("no %s target", typ)
	return nil
}

// An object that fails to apply is its target's failure, in the namespace
// the target's objects go to, not the mapped Laiki namespace.
func TestApplyFailedWhereTheTargetDeploys(t *testing.T) {
	run := chosenNamespaces(t)
	run.Outcome = &Outcome{Changes: []Change{
		{Op: OpCreate, APIVersion: "openanalytics.eu/v1", Kind: "ShinyProxy", Namespace: "shiny", Name: "sp", Err: errors.New("refused")},
		{Op: OpCreate, APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "pulling", Name: "pull"},
	}}
	v := verdicts(run, nil)
	if got := v[targetDoc(t, run, "ShinyProxy")]; got.reason != v1alpha1.ApplyFailedReason || !strings.Contains(got.message, "refused") {
		t.Errorf("ShinyProxy target: %+v", got)
	}
	if got := v[targetDoc(t, run, "PrePuller")]; got.reason != v1alpha1.AppliedReason {
		t.Errorf("PrePuller target: %+v", got)
	}
}

// An app waits on the components of its Laiki namespace, looked for where
// they were applied.
func TestServingWhereTheTargetsDeploy(t *testing.T) {
	run := chosenNamespaces(t)
	run.Outcome = &Outcome{Changes: []Change{
		{Op: OpCreate, APIVersion: "openanalytics.eu/v1", Kind: "ShinyProxy", Namespace: "shiny", Name: "sp"},
		{Op: OpCreate, APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "pulling", Name: "pull"},
	}}
	r := &Reconciler{Applier: &Applier{}, Cluster: fake.NewClientBuilder().Build()}
	run.Serving = r.serving(context.Background(), run)
	var app *document.Document
	for _, res := range run.Result.Resources {
		app = res.Doc
	}
	got := verdicts(run, nil)[app]
	if got.reason != v1alpha1.ProgressingReason {
		t.Fatalf("the app: %+v", got)
	}
	for _, want := range []string{"ShinyProxy shiny/sp", "PrePuller pulling/pull"} {
		if !strings.Contains(got.message, want) {
			t.Errorf("the app's message does not name %s: %s", want, got.message)
		}
	}
}
