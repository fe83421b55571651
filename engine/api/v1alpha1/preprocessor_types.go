package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PreProcessorSpec configures a pre-processor for the resources of the
// object's namespace (or of one target in it).
type PreProcessorSpec struct {
	// PreProcessorName names the Rego policy (package laiki.preprocessors.<name>).
	// +kubebuilder:validation:MinLength=1
	PreProcessorName string `json:"preProcessorName"`
	// TargetName narrows the pre-processor to one target of the namespace.
	// +optional
	TargetName string `json:"targetName,omitempty"`
	// Parameters are the pre-processor's own settings (laiki-spec in a file),
	// e.g. fallback, append and override for ShinyProxyAppDefaultsPreProcessor.
	// +optional
	Parameters *Any `json:"parameters,omitempty"`
}

// PreProcessor changes resources before any workflow sees them.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pp,categories=laiki
// +kubebuilder:printcolumn:name="Pre-processor",type=string,JSONPath=`.spec.preProcessorName`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.targetName`
type PreProcessor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PreProcessorSpec `json:"spec"`
	Status            Status           `json:"status,omitempty"`
}

// PreProcessorList is a list of PreProcessors.
// +kubebuilder:object:root=true
type PreProcessorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PreProcessor `json:"items"`
}

func init() { SchemeBuilder.Register(&PreProcessor{}, &PreProcessorList{}) }
