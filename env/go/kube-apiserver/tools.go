//go:build tools

// Package tools pins the binaries built from this module: kube-apiserver, kubectl and the etcd
// release it was tested against (k8s.io/kubernetes requires go.etcd.io/etcd/server/v3).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
