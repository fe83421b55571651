package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Any holds any JSON value (a ShinyProxy setting Laiki passes on as written).
type Any = apiextensionsv1.JSON

// Status is the status of every Laiki object.
type Status struct {
	// ObservedGeneration is the generation the conditions speak of.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// PolicyRevision identifies the policies that made the last decision.
	// +optional
	PolicyRevision string `json:"policyRevision,omitempty"`
}
