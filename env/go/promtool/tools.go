//go:build tools

// Package tools pins the Prometheus release whose promtool checks the metrics output and
// tests the chart's alerting rules.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
