// Package kube tests Laiki against a real kube-apiserver and etcd (envtest):
// the admission webhook called by the API server over TLS.
package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/laiki-platform/laiki/engine/kube"
	"github.com/laiki-platform/laiki/engine/pipeline"
	"github.com/laiki-platform/laiki/engine/source"
	"github.com/laiki-platform/laiki/test/kubetest"
	"github.com/laiki-platform/laiki/webhook"
)

var (
	env     *envtest.Environment
	restCfg *rest.Config
	repo    string
	config  *source.Config
	// platformDir is a copy of the design document's example platform
	// (test/fixtures/design/platform), which tests may change
	// (the webhook re-reads it every refresh).
	platformDir string
)

// refresh is how often the webhook re-reads the sources here.
const refresh = 300 * time.Millisecond

const laikiYAML = `sources:
  - name: platform
    path: %s
    role: platform
    subjects: {groups: [platform-admins]}
  - name: team-a
    path: %s
    allow:
      resource-types: [ShinyProxyApp, AwsEcrRepository]
      target-namespaces: [ShinyProxy]
    subjects: {groups: [team-a]}
  - name: team-b
    path: %[2]s/team-b
    allow:
      resource-types: [ShinyProxyApp, AwsEcrRepository]
      target-namespaces: [ShinyProxy]
    subjects: {groups: [team-b]}
`

func TestMain(m *testing.M) {
	repo = kubetest.Repo()
	kubetest.Main(m, "envtest", run)
}

func run(m *testing.M) (int, error) {
	teamDir, err := os.MkdirTemp("", "laiki-team")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(teamDir)
	if platformDir, err = os.MkdirTemp("", "laiki-platform"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(platformDir)
	if err := os.CopyFS(platformDir, os.DirFS(filepath.Join(repo, "test", "fixtures", "design", "platform"))); err != nil {
		return 1, err
	}
	if err := os.MkdirAll(filepath.Join(teamDir, "team-b"), 0o755); err != nil {
		return 1, err
	}
	config, err = source.ParseConfig(filepath.Join(teamDir, "laiki.yaml"), []byte(fmt.Sprintf(laikiYAML, platformDir, teamDir)))
	if err != nil {
		return 1, err
	}
	mutating, validating := webhook.Configurations("laiki", "laiki-webhook", nil)
	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repo, "charts", "laiki", "crds")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{mutating},
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{validating},
		},
	}
	restCfg, err = kubetest.Start(env)
	if err != nil {
		return 1, err
	}
	defer env.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wo := env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:        scheme(),
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir}),
		Metrics:       metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return 1, err
	}
	adm := &webhook.Admission{Config: config, Options: pipeline.Options{Load: source.Options{CacheDir: teamDir}}, Refresh: refresh}
	if err := webhook.Setup(ctx, mgr, adm); err != nil {
		return 1, err
	}
	stopped := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(stopped) }()
	// The manager stops before the API server and its certificates go.
	defer func() { cancel(); <-stopped }()
	if err := waitServing(ctx); err != nil {
		return 1, err
	}
	admin, err := client.New(restCfg, client.Options{Scheme: scheme()})
	if err != nil {
		return 1, err
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kube.Name("ShinyProxy")}}); err != nil {
		return 1, err
	}
	// RBAC lets every test group do anything with Laiki objects: what a
	// team may do is the webhook's to decide, as in a cluster where RBAC
	// is loose.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "laiki-everything"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"laiki.io"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "laiki-everything"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name}}
	for _, g := range []string{"team-a", "team-b", "platform-admins", "nobody"} {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: g})
	}
	if err := admin.Create(ctx, role); err != nil {
		return 1, err
	}
	if err := admin.Create(ctx, binding); err != nil {
		return 1, err
	}
	return m.Run(), nil
}
