// Package kube holds the Kubernetes forms of Laiki documents: the mapping of
// Laiki names to Kubernetes names, the conversion between the file form
// (laiki-metadata / laiki-spec) and the object form (group laiki.io), and
// the labels and tags Laiki puts on what it makes (labels.go).
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	notDNS = regexp.MustCompile(`[^a-z0-9-]+`)
	// hashed is the shape of a mapped name; a name of that shape is mapped
	// too, so that no name passes through unchanged onto a mapped one.
	hashed = regexp.MustCompile(`-[0-9a-f]{10}$`)
)

// Name maps a Laiki name or namespace to a Kubernetes name (a DNS label).
// A valid label stays as it is; any other name (the design document's
// "ShinyProxy") becomes its lower-case, cleaned form, cut to 52 characters,
// plus "-" and the first 10 hex digits of the SHA-256 of the original. So
// "ShinyProxy" and "shinyproxy" never share a name, and the original is kept
// in an annotation to convert back.
func Name(name string) string {
	if len(validation.IsDNS1123Label(name)) == 0 && !hashed.MatchString(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	base := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 52 {
		base = strings.Trim(base[:52], "-")
	}
	if base == "" {
		base = "x"
	}
	return base + "-" + hex.EncodeToString(sum[:])[:10]
}

// Mapped reports whether Name changes a name.
func Mapped(name string) bool { return Name(name) != name }
