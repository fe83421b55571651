//go:build tools

// Package tools pins OPA's main package.
package tools

import _ "github.com/open-policy-agent/opa"
