//go:build tools

// Package tools pins the cosign release the signed-model tests check interoperability with:
// `cosign sign-blob` / `verify-blob --key` against `edgeplane model sign` / `verify`.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
