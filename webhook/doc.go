// Package webhook will hold the Kubernetes admission webhook: the same engine
// and verdict as `laiki check`, on `kubectl apply`. Not written yet.
package webhook
