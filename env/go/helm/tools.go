//go:build tools

// Package tools pins the helm release the chart checks run with.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
