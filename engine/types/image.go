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
