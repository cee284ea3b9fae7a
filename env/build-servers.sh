#!/usr/bin/env bash
# Builds the servers the test environment runs, from pinned Go modules, into a cache
# outside the checkout (CI clones afresh; a cache in the repo would be cold every run).
# Binaries are keyed by version, so a warm run only checks that the files exist.
#   EDGEPLANE_CACHE  cache root (default ~/.cache/edgeplane)
#   only=<name,...>  build only these (kube-apiserver,kubectl,etcd,nats-server,helm,toxiproxy-server)
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
    (cd "$here/go/$dir" && go build -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp" "$pkg")
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

# One file the TypeScript side reads to find the binaries and report their versions.
cat > "$bin/versions.json" <<JSON
{"kube-apiserver":"$k8s","kubectl":"$k8s","etcd":"$etcd","nats-server":"$nats","helm":"$helm","toxiproxy-server":"$toxiproxy"}
JSON
