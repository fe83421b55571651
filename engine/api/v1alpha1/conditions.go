package v1alpha1

// Condition types of every Laiki object, as Kubernetes conventions (kstatus)
// have them. The reconcile loop sets all three on each object it reads; the
// status ConfigMap gives the sources and the policies the same three.
const (
	// ReadyCondition is True when the object is accepted, applied and
	// served (an app is Ready once its components run it, not when it is
	// applied).
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while the object is applied and not
	// served yet.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when only a change to the object (or to the
	// policies) can make it Ready.
	StalledCondition = "Stalled"
)

// Reasons of the conditions. Every condition the reconcile loop sets on an
// object has the same reason, the one of its Ready condition; the reasons
// also name the Events told of them.
const (
	// AppliedReason: accepted and applied.
	AppliedReason = "Applied"
	// RejectedReason: a resource the policies reject (Stalled).
	RejectedReason = "Rejected"
	// InErrorReason: a target or pre-processor with a blocking finding
	// (Stalled).
	InErrorReason = "InError"
	// LastAcceptedVersionKeptReason: a new version of a resource is
	// rejected, the last version accepted stays deployed.
	LastAcceptedVersionKeptReason = "LastAcceptedVersionKept"
	// ApplyFailedReason: accepted, and applying it (or what it makes
	// outside the cluster, an ECR repository) failed; the next run tries
	// again.
	ApplyFailedReason = "ApplyFailed"
	// ProgressingReason: applied, and its components do not serve it yet
	// (Reconciling).
	ProgressingReason = "Progressing"
	// ImagePullFailedReason: applied, and nodes cannot pull its image
	// (Reconciling; the message names the image and the nodes).
	ImagePullFailedReason = "ImagePullFailed"
	// PolicyViolationReason: a running resource the policies in force
	// reject (found by the audit); it keeps running as the policies that
	// accepted it had it (Stalled).
	PolicyViolationReason = "PolicyViolation"
)

// Reasons of the conditions of the sources and the policies, in the status
// ConfigMap (and of the Events on it).
const (
	// FetchedReason: the source was read at the revision given.
	FetchedReason = "Fetched"
	// LastGoodRevisionKeptReason: the source could not be read, its last
	// good read stands in.
	LastGoodRevisionKeptReason = "LastGoodRevisionKept"
	// SourceNeverReadReason: a source has never been read; on an object,
	// the run stopped before deciding anything.
	SourceNeverReadReason = "SourceNeverRead"
	// PoliciesLoadedReason: the policy set read is in force.
	PoliciesLoadedReason = "PoliciesLoaded"
	// PoliciesRefusedReason: the policy set read was refused, the one
	// before stays in force (Stalled).
	PoliciesRefusedReason = "PoliciesRefused"
)

// StatusObject is a Laiki object: every kind has the same Status.
// +kubebuilder:object:generate=false
type StatusObject interface {
	// GetStatus returns the object's status, to read or to set.
	GetStatus() *Status
}

// GetStatus returns the object's status.
func (in *ShinyProxyApp) GetStatus() *Status { return &in.Status }

// GetStatus returns the object's status.
func (in *ShinyProxyTarget) GetStatus() *Status { return &in.Status }

// GetStatus returns the object's status.
func (in *PrePullerTarget) GetStatus() *Status { return &in.Status }

// GetStatus returns the object's status.
func (in *CraneTarget) GetStatus() *Status { return &in.Status }

// GetStatus returns the object's status.
func (in *PreProcessor) GetStatus() *Status { return &in.Status }

// GetStatus returns the object's status.
func (in *AwsEcrRepository) GetStatus() *Status { return &in.Status }
