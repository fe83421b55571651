// Package v1alpha1 holds Laiki documents as Kubernetes objects (group
// laiki.io, version v1alpha1): one kind per target type, one per resource
// type, and PreProcessor. The Go types are the one source of the schemas:
// controller-gen makes the CRDs from them, and the engine's spec checks are
// read from the same types (engine/schema's FromGoType, in each type's file
// in engine/workflow).
//
// +kubebuilder:object:generate=true
// +groupName=laiki.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion of every Laiki kind.
	GroupVersion = schema.GroupVersion{Group: "laiki.io", Version: "v1alpha1"}
	// SchemeBuilder registers the kinds with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
