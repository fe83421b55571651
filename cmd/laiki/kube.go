package main

import (
	"os"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

// restConfig reads the usual kubeconfig: --kubeconfig, $KUBECONFIG,
// in-cluster, or ~/.kube/config.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		_ = os.Setenv("KUBECONFIG", kubeconfig)
	}
	return ctrl.GetConfig()
}
