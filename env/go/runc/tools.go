//go:build tools

// Package tools pins runc, the OCI runtime containerd's shim starts containers with.
package tools

import (
	_ "github.com/opencontainers/runc"
)
