package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// AwsEcrRepositorySpec names an image repository in AWS ECR for one app. The
// platform sets everything else (tag immutability, scanning, encryption).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || self.name == oldSelf.name",message="name is immutable"
type AwsEcrRepositorySpec struct {
	// TargetName is the target the repository binds to; its namespace is the object's.
	TargetName string `json:"targetName" laiki:"object-only"`
	// Name of the repository in ECR (after the platform's name prefix, if
	// any: one character is enough then).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name" laiki:"required"`
	// Adopt asks Laiki to take over a repository of this name that exists
	// already, made outside Laiki, where the platform allows it
	// (laiki-ecr.adopt on-request, untagged or always).
	// +optional
	Adopt bool `json:"adopt,omitempty"`
}

// AwsEcrRepository is an ECR repository a team asks for.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ecr,categories=laiki;laiki-resources
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
type AwsEcrRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AwsEcrRepositorySpec `json:"spec"`
	Status            Status               `json:"status,omitempty"`
}

// AwsEcrRepositoryList is a list of AwsEcrRepositories.
// +kubebuilder:object:root=true
type AwsEcrRepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AwsEcrRepository `json:"items"`
}

func init() { SchemeBuilder.Register(&AwsEcrRepository{}, &AwsEcrRepositoryList{}) }
