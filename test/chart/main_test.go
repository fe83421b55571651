// Package chart tests the Helm chart charts/laiki: helm lint and helm
// template (with Helm built from the Go module proxy), the rendered
// manifests applied to a real kube-apiserver, and the path of the README
// from the install to a first app in ShinyProxy, with the operator running
// as the chart's ServiceAccount under the chart's RBAC.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/laiki-platform/laiki/engine/cluster"
	"github.com/laiki-platform/laiki/test/kubetest"
)

var (
	repo    string
	helm    string
	laiki   string
	env     *envtest.Environment
	restCfg *rest.Config
	admin   client.Client
	tmp     string
)

// stubCRDs are the CRDs of objects the chart can make for other operators
// (Prometheus operator, cert-manager): enough for the API server to take
// the objects, not their validation.
var stubCRDs = []struct{ group, kind, plural string }{
	{"monitoring.coreos.com", "ServiceMonitor", "servicemonitors"},
	{"cert-manager.io", "Certificate", "certificates"},
	{"cert-manager.io", "Issuer", "issuers"},
}

func stub(group, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind)},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
}

func TestMain(m *testing.M) {
	repo = kubetest.Repo()
	kubetest.Main(m, "chart", run)
}

func run(m *testing.M) (int, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return 1, fmt.Errorf("git is needed (make test-deps installs it): %w", err)
	}
	var err error
	if helm, err = helmBinary(); err != nil {
		return 1, err
	}
	if tmp, err = os.MkdirTemp("", "laiki-chart"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	if laiki, err = kubetest.Laiki(tmp); err != nil {
		return 1, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, s := range stubCRDs {
		crds = append(crds, stub(s.group, s.kind, s.plural))
	}
	// The ShinyProxy operator's CRD is a prerequisite of the chart, not
	// part of it; Laiki's own CRDs come from the rendered chart.
	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repo, "engine", "workflow", "crds", "shinyproxy.crd.yaml")},
		CRDs:                  crds,
		ErrorIfCRDPathMissing: true,
	}
	if restCfg, err = kubetest.Start(env); err != nil {
		return 1, err
	}
	defer env.Stop()
	if admin, err = client.New(restCfg, client.Options{Scheme: cluster.Scheme()}); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// helmBinary is $LAIKI_HELM (make test sets it), or what
// scripts/helm-binary.sh builds.
func helmBinary() (string, error) {
	if h := os.Getenv("LAIKI_HELM"); h != "" {
		return h, nil
	}
	out, err := exec.Command(filepath.Join(repo, "scripts", "helm-binary.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("scripts/helm-binary.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// helmRun runs helm in the repository and returns its output.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm, args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(tmp, "helm-cache"), "HELM_CONFIG_HOME="+filepath.Join(tmp, "helm-config"), "HELM_DATA_HOME="+filepath.Join(tmp, "helm-data"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// render runs helm template with values files and --set flags, and reads
// the manifests.
func render(t *testing.T, namespace string, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", "laiki", "charts/laiki", "--namespace", namespace, "--include-crds"}, extra...)
	out, err := helmRun(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func decode(text string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

// into converts an object to a typed one.
func into(t *testing.T, u *unstructured.Unstructured, typed any) {
	t.Helper()
	if u == nil {
		t.Fatal("no such object in the chart")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within %s: %s", timeout, describe())
}

var ctx = context.Background()
