// Package reconcile will hold the reconcile loop behind `laiki operator` and
// `laiki apply`. Not written yet.
package reconcile
