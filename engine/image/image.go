// Package image reads container image references as a container runtime
// does (distribution/reference's grammar): whether a node can pull one,
// the form it pulls, and whether its tag can move.
package image

import (
	"strings"

	"github.com/distribution/reference"
)

// Valid reports whether ref is an image reference a container runtime
// accepts: distribution/reference's grammar (the kubelet's, through
// ParseNormalizedNamed: domain, lower-case path components, tag, a digest
// of a known algorithm and length), the same that the baseline policy
// checks in Rego; workflows use it to leave out what a kubelet could not
// pull.
func Valid(ref string) bool {
	_, err := reference.Parse(ref)
	return err == nil
}

// Tag reads what pins an image reference: its tag ("" without one) and
// whether it names a digest. A port of the registry (host:5000/app) is not
// a tag: a tag comes after the last '/'.
func Tag(ref string) (tag string, digest bool) {
	if name, _, found := strings.Cut(ref, "@"); found {
		ref, digest = name, true
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	return tag, digest
}

// Runnable is the reference that runs, and is pre-pulled, for an
// app's container-image: the image itself when valid; else, when only
// upper case stands in the way (the design document's
// "openanalytics/ShinyProxy-demo"), its name lower-cased with the tag and
// digest as written, since registries keep repository names in lower case
// and a kubelet refuses any other (InvalidImageName), while a tag is case
// sensitive. ok is false when neither is valid: no node could pull it.
func Runnable(ref string) (image string, ok bool) {
	if Valid(ref) {
		return ref, true
	}
	name, pin := splitPin(ref)
	if lower := strings.ToLower(name) + pin; Valid(lower) {
		return lower, true
	}
	return "", false
}

// splitPin cuts a reference into its name (registry and repository) and
// what pins it (":tag", "@digest", both, or nothing).
func splitPin(ref string) (name, pin string) {
	name, digest, found := strings.Cut(ref, "@")
	if found {
		pin = "@" + digest
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, pin = name[:i], name[i:]+pin
	}
	return name, pin
}

// MovingTag reports whether pulling ref again may give another image: no
// digest, and the tag latest or none (which is latest).
func MovingTag(ref string) bool {
	tag, digest := Tag(ref)
	return !digest && (tag == "" || tag == "latest")
}
