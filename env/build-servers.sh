#!/usr/bin/env bash
# Builds the servers the test environment runs, from pinned Go modules, into a cache
# outside the checkout (CI clones afresh; a cache in the repo would be cold every run).
# Binaries are keyed by version, so a warm run only checks that the files exist.
#   EDGEPLANE_CACHE  cache root (default ~/.cache/edgeplane)
#   only=<name,...>  build only these (kube-apiserver,kubectl,etcd,nats-server,helm,toxiproxy-server,promtool,
#                    and the test cluster's kubelet,kube-controller-manager,kube-scheduler,kube-proxy,
#                    containerd,containerd-shim-runc-v2,ctr,runc,cni-bridge,cni-host-local,cni-loopback,cni-portmap,coredns,
#                    and cosign for the signed-model interoperability test)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${EDGEPLANE_CACHE:-$HOME/.cache/edgeplane}
bin="$cache/bin"
mkdir -p "$bin"
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

modver() { # module dir, module path -> version pinned in its go.mod
  (cd "$here/go/$1" && go list -m -f '{{.Version}}' "$2")
}

build() { # name, module dir, package, version, [ldflags]
  local name=$1 dir=$2 pkg=$3 ver=$4 ldflags=${5:-}
  local out="$bin/$name-$ver"
  if [[ -n "${only:-}" && ",$only," != *",$name,"* ]]; then return; fi
  if [[ -x "$out" ]]; then
    echo "[servers] $name $ver: cached ($out)"
  else
    echo "[servers] $name $ver: building from the Go module proxy (first time only; this takes minutes)..."
    local start=$SECONDS
    # cgo=1 and tags=... set by a caller for the few that need them (runc).
    (cd "$here/go/$dir" && CGO_ENABLED=${cgo:-0} go build -trimpath ${tags:+-tags "$tags"} -ldflags="-s -w $ldflags" -o "$out.tmp" "$pkg")
    mv "$out.tmp" "$out"
    echo "[servers] $name $ver: built in $((SECONDS - start)) s"
  fi
  ln -sf "$name-$ver" "$bin/$name"
}

k8s=$(modver kube-apiserver k8s.io/kubernetes)
etcd=$(modver kube-apiserver go.etcd.io/etcd/server/v3)
nats=$(modver nats-server github.com/nats-io/nats-server/v2)
helm=$(modver helm helm.sh/helm/v3)
toxiproxy=$(modver toxiproxy github.com/Shopify/toxiproxy/v2)

build nats-server nats-server github.com/nats-io/nats-server/v2 "$nats"
build etcd kube-apiserver go.etcd.io/etcd/server/v3 "$etcd"
# Stamp the release, as the Kubernetes build does, so /version (and helm's kubeVersion check)
# sees v1.37.2 rather than v0.0.0-master.
kminor=${k8s#v1.}; kminor=${kminor%%.*}
kver="-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor -X k8s.io/component-base/version.gitTreeState=clean"
kver="$kver -X k8s.io/client-go/pkg/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kminor"
build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s-stamped" "$kver"
# kubectl from the same release, for the tests of kubectl explain, apply and the kubectl plugin.
build kubectl kube-apiserver k8s.io/kubernetes/cmd/kubectl "$k8s-stamped" "$kver"
build helm helm helm.sh/helm/v3/cmd/helm "$helm"
# TCP faults (latency, resets, partitions) for the fault tests.
build toxiproxy-server toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server "$toxiproxy" "-X github.com/Shopify/toxiproxy/v2.Version=$toxiproxy"
# promtool: checks the /metrics output of both components and unit-tests the chart's alerts.
promtool=$(modver promtool github.com/prometheus/prometheus)
build promtool promtool github.com/prometheus/prometheus/cmd/promtool "$promtool" "-X github.com/prometheus/common/version.Version=${promtool#v}"

# The test cluster (docs/cluster.md): kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy from the same Kubernetes release as kube-apiserver; containerd with its runc shim
# and ctr (image import); runc; the CNI plugins of the pod network.
knode=$(modver kubernetes-node k8s.io/kubernetes)
if [[ "$knode" != "$k8s" ]]; then
  echo "[servers] env/go/kubernetes-node pins k8s.io/kubernetes $knode, kube-apiserver $k8s: pin both to one release" >&2
  exit 1
fi
for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  build $c kubernetes-node k8s.io/kubernetes/cmd/$c "$k8s-stamped" "$kver"
done
containerd=$(modver containerd github.com/containerd/containerd/v2)
for c in containerd containerd-shim-runc-v2 ctr; do
  tags=no_btrfs build $c containerd github.com/containerd/containerd/v2/cmd/$c "$containerd" "-X github.com/containerd/containerd/v2/version.Version=$containerd"
done
runc=$(modver runc github.com/opencontainers/runc)
# runc's namespace setup (nsenter) is C and its seccomp filters come from libseccomp
# (Debian's libseccomp-dev), linked in statically so the binary runs in any mount namespace.
cgo=1 tags="seccomp netgo osusergo" build runc runc github.com/opencontainers/runc "$runc" "-X main.version=${runc#v} -extldflags=-static"
cni=$(modver cni-plugins github.com/containernetworking/plugins)
for c in main/bridge ipam/host-local main/loopback meta/portmap; do
  build "cni-${c#*/}" cni-plugins github.com/containernetworking/plugins/plugins/$c "$cni"
done

# The test cluster's DNS: CoreDNS with its kubernetes plugin, run as a pod (env/src/cluster-dns.ts).
coredns=$(modver coredns github.com/coredns/coredns)
build coredns coredns github.com/coredns/coredns "$coredns" "-X github.com/coredns/coredns/coremain.GitCommit=$coredns"

# cosign, for the signed-model interoperability test (`edgeplane model sign` / `verify` against
# `cosign sign-blob` / `verify-blob --key`, both ways).
cosign=$(modver cosign github.com/sigstore/cosign/v2)
build cosign cosign github.com/sigstore/cosign/v2/cmd/cosign "$cosign" "-X sigs.k8s.io/release-utils/version.gitVersion=$cosign"

# One file the TypeScript side reads to find the binaries and report their versions.
cat > "$bin/versions.json" <<JSON
{"kube-apiserver":"$k8s","kubectl":"$k8s","etcd":"$etcd","nats-server":"$nats","helm":"$helm","toxiproxy-server":"$toxiproxy","promtool":"$promtool","kubelet":"$k8s","containerd":"$containerd","runc":"$runc","cni-plugins":"$cni","coredns":"$coredns","cosign":"$cosign"}
JSON
