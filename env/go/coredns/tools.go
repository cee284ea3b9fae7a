//go:build tools

// Package tools pins the CoreDNS release the test cluster runs as its cluster DNS.
package tools

import _ "github.com/coredns/coredns"
