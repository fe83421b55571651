// Package policies holds the built-in Rego policies, embedded in the binary:
// the pre-processors (preprocessors/) and the governance rules (governance/),
// each with its Rego tests beside it (*_test.rego).
package policies

import "embed"

// FS holds every built-in policy and its tests.
//
//go:embed preprocessors/*.rego governance/*.rego
var FS embed.FS
