//go:build tools

// Package tools pins etcd's main package in this module.
package tools

import _ "go.etcd.io/etcd/server/v3"
