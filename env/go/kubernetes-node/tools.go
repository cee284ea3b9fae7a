//go:build tools

// Package tools pins the node and controller binaries of the test cluster: kubelet,
// kube-controller-manager, kube-scheduler and kube-proxy, from the same k8s.io/kubernetes
// release as kube-apiserver (build-servers.sh refuses a mismatch).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
