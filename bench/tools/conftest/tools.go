//go:build tools

// Package tools pins conftest's main package.
package tools

import _ "github.com/open-policy-agent/conftest"
