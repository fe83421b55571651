// Package fidelity proves that what Laiki renders is what a cluster takes:
// the bundled examples, rendered as `laiki render` renders them, are
// created object by object (a server-side dry run) on a real kube-apiserver
// (envtest) with the ShinyProxy operator's CRD installed, each in the
// namespace the render says. One API server serves the package.
package fidelity

import (
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/laiki-platform/laiki/test/kubetest"
)

var (
	repo  string
	admin client.Client
)

func TestMain(m *testing.M) {
	repo = kubetest.Repo()
	kubetest.Main(m, "fidelity", run)
}

func run(m *testing.M) (int, error) {
	env := &envtest.Environment{
		// The operator's own CRD (release and commit in its README): the
		// API server then checks a ShinyProxy resource as in a cluster
		// that runs the operator.
		CRDDirectoryPaths:     []string{filepath.Join(repo, "engine", "workflow", "crds", "shinyproxy.crd.yaml")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := kubetest.Start(env)
	if err != nil {
		return 1, err
	}
	defer env.Stop()
	if admin, err = client.New(cfg, client.Options{}); err != nil {
		return 1, err
	}
	return m.Run(), nil
}
