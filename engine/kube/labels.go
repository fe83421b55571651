package kube

// The labels Laiki puts on the objects it makes, and the tags on the
// external resources it makes, in one place: the workflows write them, the
// reconcile loop prunes and the provisioners claim by them, so one spelling
// serves all.
const (
	// LabelManagedBy is ManagedByLaiki on everything Laiki makes.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByLaiki = "laiki"
	// LabelComponent says which part of a target an object deploys.
	LabelComponent = "app.kubernetes.io/component"
	// LabelInstance names the Laiki instance that applied an object: one
	// instance never prunes another's.
	LabelInstance = "laiki.io/instance"
	// LabelTarget names the target an object or external resource is for.
	LabelTarget = "laiki.io/target"
	// LabelResource is the key of the resource an external resource is
	// made for; LabelSource the source that declares it.
	LabelResource = "laiki.io/resource"
	LabelSource   = AnnotationSource
)
