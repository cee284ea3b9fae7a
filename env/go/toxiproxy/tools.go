//go:build tools

// Package tools pins the toxiproxy release the fault tests inject TCP faults with.
package tools

import _ "github.com/Shopify/toxiproxy/v2/cmd/server"
