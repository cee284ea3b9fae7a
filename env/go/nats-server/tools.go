//go:build tools

// Package tools pins the nats-server release the tests run against.
package tools

import _ "github.com/nats-io/nats-server/v2"
