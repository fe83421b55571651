package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ShinyProxyTargetSpec is a standard ShinyProxy application.yml (server,
// spring, proxy, ...) plus the ShinyProxy operator's keys (image, fqdn, ...),
// kept as the platform wrote them. Apps are not listed here: each is a
// ShinyProxyApp bound to the target.
// +kubebuilder:pruning:PreserveUnknownFields
type ShinyProxyTargetSpec struct {
	// Proxy is ShinyProxy's proxy section.
	// +optional
	Proxy *Any `json:"proxy,omitempty" laiki:"map"`
	// LaikiEcr is how Laiki makes the ECR repositories of the apps bound to
	// this target (a Laiki key: ShinyProxy never sees it).
	// +optional
	LaikiEcr *EcrSettings `json:"laiki-ecr,omitempty" laiki:"strict"`
	// LaikiKubernetesNamespace is the Kubernetes namespace the target's
	// objects go to (a Laiki key: never rendered into the component's
	// configuration). Without it, the Laiki namespace, mapped to a
	// Kubernetes name when it is not one (ShinyProxy becomes
	// shinyproxy-ae8ef13dc8).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	LaikiKubernetesNamespace string `json:"laiki-kubernetes-namespace,omitempty" laiki:"dns-label"`
}

// EcrSettings are the platform's settings for every AwsEcrRepository bound
// to a target: teams choose only the name.
type EcrSettings struct {
	// Region of the repositories (default: the AWS SDK's default region).
	// +optional
	Region string `json:"region,omitempty"`
	// RegistryID is the account the repositories are in (default: the
	// caller's).
	// +optional
	RegistryID string `json:"registry-id,omitempty"`
	// NamePrefix goes before every repository name (e.g. "team-a/"), so
	// that each namespace has its own part of the registry.
	// +optional
	NamePrefix string `json:"name-prefix,omitempty"`
	// KMSKey encrypts the repositories with this KMS key instead of AES256.
	// +optional
	KMSKey string `json:"kms-key,omitempty"`
	// LifecyclePolicy is an ECR lifecycle policy (the JSON document, as YAML).
	// +optional
	LifecyclePolicy *Any `json:"lifecycle-policy,omitempty" laiki:"map"`
	// RepositoryPolicy is an ECR repository policy (the JSON document, as YAML).
	// +optional
	RepositoryPolicy *Any `json:"repository-policy,omitempty" laiki:"map"`
	// OnDelete says what happens to a repository whose resource is gone:
	// keep (the default: it is tagged as orphaned, its images are
	// evidence), delete-if-empty, or force (delete it with its images).
	// +kubebuilder:validation:Enum=keep;delete-if-empty;force
	// +optional
	OnDelete string `json:"on-delete,omitempty"`
	// Adopt says which existing repositories, made outside Laiki, become
	// Laiki's when a resource names them: never (the default: the resource
	// is in error, the repository untouched), on-request (those whose
	// resource says adopt: true), untagged (those that carry no tag at all,
	// and others on request) or always. A repository tagged as another
	// Laiki instance's is never adopted.
	// +kubebuilder:validation:Enum=never;on-request;untagged;always
	// +optional
	Adopt string `json:"adopt,omitempty"`
	// DeleteAdopted lets on-delete delete a repository Laiki adopted (as it
	// was when adopted): without it, an adopted repository whose resource
	// is gone is only tagged as orphaned, whatever on-delete says.
	// +optional
	DeleteAdopted bool `json:"delete-adopted,omitempty"`
	// TagMutability is IMMUTABLE (the default) or IMMUTABLE_WITH_EXCLUSION,
	// whose TagMutabilityExclusions may be overwritten.
	// +kubebuilder:validation:Enum=IMMUTABLE;IMMUTABLE_WITH_EXCLUSION
	// +optional
	TagMutability string `json:"tag-mutability,omitempty"`
	// TagMutabilityExclusions are the tags that stay mutable under
	// IMMUTABLE_WITH_EXCLUSION: 1 to 5 wildcards (ECR's pattern
	// [0-9a-zA-Z._*-]{1,128}; one of * alone would exclude every tag).
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:Pattern=`^[0-9a-zA-Z._*-]{1,128}$`
	// +optional
	TagMutabilityExclusions []string `json:"tag-mutability-exclusions,omitempty"`
	// LifecycleAction is what the lifecycle policy does to the images it
	// selects: expire (the default: deleted) or archive (moved to ECR's
	// archive storage class, from which they can be restored).
	// +kubebuilder:validation:Enum=expire;archive
	// +optional
	LifecycleAction string `json:"lifecycle-action,omitempty"`
	// CreationTemplate makes an ECR repository creation template for the
	// name prefix, with these settings, for the repositories ECR makes
	// itself there (CREATE_ON_PUSH, REPLICATION, PULL_THROUGH_CACHE): a
	// backstop for repositories made outside Laiki. Needs a name prefix.
	// +kubebuilder:validation:items:Enum=CREATE_ON_PUSH;REPLICATION;PULL_THROUGH_CACHE
	// +optional
	CreationTemplate []string `json:"creation-template,omitempty"`
	// CreationTemplateRole is the IAM role ECR assumes to apply the
	// template (needed for its tags and KMS encryption); none uses ECR's
	// service-linked role.
	// +optional
	CreationTemplateRole string `json:"creation-template-role,omitempty"`
}

// ShinyProxyTarget is one ShinyProxy instance (target-type ShinyProxy).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sptarget,categories=laiki
type ShinyProxyTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ShinyProxyTargetSpec `json:"spec,omitempty"`
	Status            Status               `json:"status,omitempty"`
}

// ShinyProxyTargetList is a list of ShinyProxyTargets.
// +kubebuilder:object:root=true
type ShinyProxyTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ShinyProxyTarget `json:"items"`
}

// PrePullerTargetSpec tunes the DaemonSet that keeps app images on every node.
type PrePullerTargetSpec struct {
	// NodeSelector of the DaemonSet; by default the ShinyProxy targets'.
	NodeSelector map[string]string `json:"node-selector,omitempty"`
	// Tolerations of the DaemonSet's pods; the tolerations the apps' own
	// kubernetes-pod-patches give their pods are added, so that their
	// images land on the nodes they run on.
	Tolerations []Any `json:"tolerations,omitempty"`
	// PriorityClassName of the DaemonSet's pods.
	PriorityClassName string `json:"priority-class-name,omitempty"`
	// HelperImage holds a static busybox (default busybox:1.36.1-musl).
	HelperImage string `json:"helper-image,omitempty"`
	// ImagePullSecrets to add to the ShinyProxy targets'. Each must exist in
	// the PrePuller's Kubernetes namespace: `laiki apply` and the operator
	// warn of one that does not (when they may read secrets there).
	ImagePullSecrets []string `json:"image-pull-secrets,omitempty"`
	// Refresh, a duration of an hour or more (24h, say), rolls the
	// DaemonSet once an interval (at each multiple of it: for 24h, at the
	// first apply or operator run after midnight UTC), its images whose tag
	// can move (latest, or none) pulled with Always, so that such an image
	// pushed again reaches the nodes. Unset (the default), an image is
	// pulled once per node and kept. Images pinned by a version tag or a
	// digest are never pulled again.
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	Refresh string `json:"refresh,omitempty"`
	// MaxImages caps the images pulled onto every node (each is a container
	// of every pod of the DaemonSet): the images most apps run are kept,
	// then by name, and the others are left out with a warning naming them.
	// Unset, every image is pulled.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxImages *int64 `json:"max-images,omitempty"`
	// LaikiKubernetesNamespace is the Kubernetes namespace the target's
	// objects go to (a Laiki key: never rendered into the component's
	// configuration). Without it, the Laiki namespace, mapped to a
	// Kubernetes name when it is not one (ShinyProxy becomes
	// shinyproxy-ae8ef13dc8).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	LaikiKubernetesNamespace string `json:"laiki-kubernetes-namespace,omitempty" laiki:"dns-label"`
}

// PrePullerTarget pre-pulls every app image of its namespace on new nodes
// (target-type PrePuller).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=prepuller,categories=laiki
type PrePullerTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PrePullerTargetSpec `json:"spec,omitempty"`
	Status            Status              `json:"status,omitempty"`
}

// PrePullerTargetList is a list of PrePullerTargets.
// +kubebuilder:object:root=true
type PrePullerTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PrePullerTarget `json:"items"`
}

// CraneTargetSpec is a Crane server's configuration (Crane's own keys: app,
// server, spring, ...) plus laiki-storage.
// +kubebuilder:pruning:PreserveUnknownFields
type CraneTargetSpec struct {
	// App is Crane's app section (storage-location, repositories, ...).
	// +optional
	App *Any `json:"app,omitempty" laiki:"map"`
	// LaikiStorage says how app containers reach Crane's storage.
	// +optional
	LaikiStorage *CraneStorage `json:"laiki-storage,omitempty" laiki:"strict"`
	// LaikiKubernetesNamespace is the Kubernetes namespace the target's
	// objects go to (a Laiki key: never rendered into the component's
	// configuration). Without it, the Laiki namespace, mapped to a
	// Kubernetes name when it is not one (ShinyProxy becomes
	// shinyproxy-ae8ef13dc8).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	LaikiKubernetesNamespace string `json:"laiki-kubernetes-namespace,omitempty" laiki:"dns-label"`
}

// CraneStorage says how app containers reach Crane's storage-location.
type CraneStorage struct {
	// +optional
	Kubernetes *CraneKubernetesStorage `json:"kubernetes,omitempty" laiki:"strict"`
	// +optional
	Docker *CraneDockerStorage `json:"docker,omitempty" laiki:"strict"`
}

// CraneKubernetesStorage: a claim or an inline CSI volume.
type CraneKubernetesStorage struct {
	// PersistentVolumeClaim is a ReadWriteMany claim holding storage-location
	// (default <crane name>-storage).
	PersistentVolumeClaim string `json:"persistent-volume-claim,omitempty"`
	// CSI is an inline CSI volume instead.
	CSI *CraneCSI `json:"csi,omitempty" laiki:"strict"`
	// Claim, when given, has Laiki create the claim (ReadWriteMany) if it
	// is missing. Laiki never deletes it: it holds the data.
	// +optional
	Claim *CraneClaim `json:"claim,omitempty" laiki:"strict"`
}

// CraneClaim is the PersistentVolumeClaim Laiki creates for Crane's storage.
type CraneClaim struct {
	// StorageClassName of a class that offers ReadWriteMany volumes (EFS, NFS, ...).
	StorageClassName string `json:"storage-class-name,omitempty"`
	// Size requested.
	Size *resource.Quantity `json:"size" laiki:"required"`
}

// CraneCSI is an inline CSI volume source.
type CraneCSI struct {
	Driver           string            `json:"driver" laiki:"required"`
	VolumeAttributes map[string]string `json:"volume-attributes,omitempty"`
}

// CraneDockerStorage: the host directory that holds storage-location.
type CraneDockerStorage struct {
	HostPath string `json:"host-path,omitempty"`
}

// CraneTarget is a Crane server (target-type Crane).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=crane,categories=laiki
type CraneTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CraneTargetSpec `json:"spec,omitempty"`
	Status            Status          `json:"status,omitempty"`
}

// CraneTargetList is a list of CraneTargets.
// +kubebuilder:object:root=true
type CraneTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CraneTarget `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ShinyProxyTarget{}, &ShinyProxyTargetList{}, &PrePullerTarget{}, &PrePullerTargetList{},
		&CraneTarget{}, &CraneTargetList{})
}
