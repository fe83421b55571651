// Package reconcile is the reconcile loop behind `laiki operator` and
// `laiki apply`: it runs the engine on the sources (keeping the last good
// read of a source that fails), holds the last accepted version of what is
// rejected, renders the desired state, applies it with server-side apply
// and prunes what Laiki made and no longer wants, provisions external
// resources (ECR), and writes status: conditions on Laiki's objects, the
// status ConfigMap, events and metrics.
package reconcile
