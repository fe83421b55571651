package reconcile

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/laiki-platform/laiki/engine/workflow"
	"github.com/laiki-platform/laiki/test/platformtest"
)

// A PrePuller whose DaemonSet (in namespace pulling) pulls with its own
// secret and the ShinyProxy target's.
func pullSecretRun(t *testing.T) *Run {
	t.Helper()
	files := map[string]string{
		"sp.yaml": "laiki-metadata: {target-type: ShinyProxy, name: sp, namespace: apps}\nlaiki-spec:\n  laiki-kubernetes-namespace: shiny\n" +
			"  fqdn: apps.example.com\n  image: openanalytics/shinyproxy:3.2.0\n  imagePullPolicy: IfNotPresent\n" +
			"  proxy: {container-backend: kubernetes, kubernetes: {image-pull-secret: spcred}}\n",
		"puller.yaml": "laiki-metadata: {target-type: PrePuller, name: pull, namespace: apps}\nlaiki-spec:\n  laiki-kubernetes-namespace: pulling\n" +
			"  image-pull-secrets: [present, regcred]\n",
		"app.yaml": "laiki-metadata: {resource-type: ShinyProxyApp, target-name: sp, target-namespace: apps}\nlaiki-spec:\n  id: demo\n  container-image: registry.example.com/demo:1\n",
	}
	res := platformtest.RunPaths(t, files)
	return &Run{Result: res, Desired: workflow.RenderAndJudge(res)}
}

func secret(namespace, name string) *corev1.Secret {
	s := &corev1.Secret{}
	s.Namespace, s.Name = namespace, name
	return s
}

// Each secret the DaemonSet names that its namespace lacks is a warning at
// the PrePuller target (spcred is in ShinyProxy's namespace, not the
// PrePuller's); where secrets cannot be read, nothing is said.
func TestPullSecretsMissing(t *testing.T) {
	run := pullSecretRun(t)
	cluster := fake.NewClientBuilder().WithObjects(secret("pulling", "present"), secret("shiny", "spcred")).Build()
	r := &Reconciler{Applier: &Applier{}, Cluster: cluster}
	r.checkPullSecrets(context.Background(), run)
	var said []string
	for _, f := range run.Result.Findings {
		if strings.Contains(f.Message, "does not exist in namespace pulling") {
			said = append(said, f.Message)
			if f.Severity != "warn" || f.Resource != "PrePuller apps/pull" || f.Location.File == "" {
				t.Errorf("not a warning at the PrePuller target: %+v", f)
			}
		}
	}
	all := strings.Join(said, "\n")
	if len(said) != 2 || !strings.Contains(all, "secret regcred") || !strings.Contains(all, "secret spcred") {
		t.Errorf("want warnings for regcred and spcred alone:\n%s", all)
	}

	run = pullSecretRun(t)
	forbidden := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, nil)
	}}
	r.Cluster = fake.NewClientBuilder().WithInterceptorFuncs(forbidden).Build()
	r.checkPullSecrets(context.Background(), run)
	for _, f := range run.Result.Findings {
		if strings.Contains(f.Message, "does not exist") {
			t.Errorf("secrets Laiki may not read are not missing: %s", f.Message)
		}
	}
}
