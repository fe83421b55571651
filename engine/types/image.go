package types

import (
	"regexp"
	"strings"
)

// imageReference is the distribution reference grammar (domain, lower-case
// path components, tag, digest), the same that the baseline policy checks in
// Rego; workflows use it to leave out what a kubelet could not pull.
var imageReference = func() *regexp.Regexp {
	comp := `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domain := `(?:` + comp + `(?:\.` + comp + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	path := `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	tag := `[\w][\w.-]{0,127}`
	digest := `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	return regexp.MustCompile(`^(?:` + domain + `/)?` + path + `(?:/` + path + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// ValidImage reports whether ref is an image reference a container runtime accepts.
func ValidImage(ref string) bool {
	return len(ref) <= 255 && imageReference.MatchString(ref)
}

// imageTag reads what pins an image reference: its tag ("" without one) and
// whether it names a digest. A port of the registry (host:5000/app) is not
// a tag: a tag comes after the last '/'.
func imageTag(ref string) (tag string, digest bool) {
	if name, _, found := strings.Cut(ref, "@"); found {
		ref, digest = name, true
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	return tag, digest
}

// RunnableImage is the reference that runs, and is pre-pulled, for an
// app's container-image: the image itself when valid; else, when only
// upper case stands in the way (the design document's
// "openanalytics/ShinyProxy-demo"), its name lower-cased with the tag and
// digest as written, since registries keep repository names in lower case
// and a kubelet refuses any other (InvalidImageName), while a tag is case
// sensitive. ok is false when neither is valid: no node could pull it.
func RunnableImage(ref string) (image string, ok bool) {
	if ValidImage(ref) {
		return ref, true
	}
	name, pin := splitPin(ref)
	if lower := strings.ToLower(name) + pin; ValidImage(lower) {
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
	tag, digest := imageTag(ref)
	return !digest && (tag == "" || tag == "latest")
}
