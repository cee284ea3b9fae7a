#!/usr/bin/env bash
# Installs (or upgrades) the edgeplane agent on a plain Linux gateway from the tarball that
# `make agent-binary` builds: dist/edgeplane-agent-<version>-linux-<arch>.tar.gz.
#
#   sudo ./install.sh edgeplane-agent-0.1.0-linux-x64.tar.gz
#
# The tarball's sha256 is checked before anything is unpacked: against --sha256 HEX, or the
# line for it in --checksums FILE, <tarball>.sha256 or SHA256SUMS beside it (`sha256sum`
# format; the build writes both). No checksum, or a wrong one, refuses the install;
# --insecure-skip-verify installs an unverified tarball and says so loudly.
#
# Layout: /opt/edgeplane-agent/<version>/ holds the binary and node_modules/ with ONNX Runtime
# beside it; /opt/edgeplane-agent/current points at the running version, so an upgrade or a
# rollback is one symlink swap and a restart. The configuration in /etc/edgeplane-agent/ is
# created once and never overwritten.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: install.sh [options] <edgeplane-agent-VERSION-linux-ARCH.tar.gz>

  --root DIR     install under DIR instead of / (image builds, tests); implies --no-systemd
                 and skips creating the system user
  --no-systemd   install the unit file but do not reload, enable or start it
  --no-start     enable the unit but do not start it (e.g. to edit the config first)
  --keep N       versions kept under /opt/edgeplane-agent, the new one included (default 3)
  --sha256 HEX   the tarball's expected sha256 (64 hex characters)
  --checksums F  a sha256sum-style file listing the tarball (default: <tarball>.sha256, then
                 SHA256SUMS beside the tarball)
  --insecure-skip-verify
                 install without a checksum (not recommended: anyone who can alter the
                 download can run code as root on this gateway)
  -h, --help     this help
USAGE
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "install.sh: $*"; }

root=/
systemd=1
start=1
keep=3
tarball=""
want_sha=""
checksums=""
skip_verify=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; root=$2; systemd=0; shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    --no-start) start=0; shift ;;
    --keep) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--keep needs a positive number"; keep=$2; shift 2 ;;
    --sha256) [[ $# -ge 2 && $2 =~ ^[0-9a-fA-F]{64}$ ]] || die "--sha256 needs 64 hexadecimal characters"; want_sha=${2,,}; shift 2 ;;
    --checksums) [[ $# -ge 2 ]] || die "--checksums needs a file"; checksums=$2; shift 2 ;;
    --insecure-skip-verify) skip_verify=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [[ -z $tarball ]] || die "one tarball only"; tarball=$1; shift ;;
  esac
done
[[ -n $tarball ]] || { usage >&2; die "no tarball given"; }
[[ -f $tarball ]] || die "$tarball: no such file"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unit_src="$here/edgeplane-agent.service"
config_src="$here/config.example.yaml"
[[ -f $unit_src && -f $config_src ]] || die "edgeplane-agent.service and config.example.yaml must sit beside install.sh"

# The version and architecture come from the file name that `make agent-binary` gives it.
name=$(basename "$tarball")
if [[ ! $name =~ ^edgeplane-agent-([0-9A-Za-z.+-]+)-linux-(x64|arm64)\.tar\.gz$ ]]; then
  die "$name: expected edgeplane-agent-<version>-linux-<x64|arm64>.tar.gz"
fi
version=${BASH_REMATCH[1]}
arch=${BASH_REMATCH[2]}

# The checksum is checked before anything in the tarball is unpacked or run.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -- "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 -- "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r -- "$1" | cut -d' ' -f1
  fi
}
# The digest listed for $name in a sha256sum-style file ("HEX  name" or "HEX *name"), if any.
listed_sha() {
  awk -v n="$name" '{ f = $2; sub(/^\*/, "", f); sub(/.*\//, "", f) } f == n && $1 ~ /^[0-9a-fA-F]+$/ && length($1) == 64 { print tolower($1); exit }' "$1"
}
if [[ -z $want_sha ]]; then
  tar_dir=$(dirname "$tarball")
  if [[ -n $checksums ]]; then
    [[ -f $checksums ]] || die "$checksums: no such file"
    sums_file=$checksums
  elif [[ -f $tarball.sha256 ]]; then
    sums_file=$tarball.sha256
  elif [[ -f $tar_dir/SHA256SUMS ]]; then
    sums_file=$tar_dir/SHA256SUMS
  else
    sums_file=""
  fi
  if [[ -n $sums_file ]]; then
    want_sha=$(listed_sha "$sums_file")
    [[ -n $want_sha ]] || die "$sums_file does not list $name"
  fi
fi
if [[ -n $want_sha ]]; then
  actual_sha=$(sha256_of "$tarball")
  [[ $actual_sha == "$want_sha" ]] || die "$name: checksum mismatch (sha256 $actual_sha, expected $want_sha); refusing to install a tarball that is not the one published"
  say "$name: sha256 verified"
elif ((skip_verify)); then
  echo "install.sh: WARNING: INSTALLING $name WITHOUT VERIFYING ITS CHECKSUM (--insecure-skip-verify)" >&2
  echo "install.sh: WARNING: anyone who could alter the download can now run code as root on this machine" >&2
else
  die "$name: no checksum to verify it against: pass --sha256 HEX or --checksums FILE, or put $name.sha256 or SHA256SUMS beside it (--insecure-skip-verify installs anyway)"
fi
case "$(uname -m)" in
  x86_64 | amd64) host_arch=x64 ;;
  aarch64 | arm64) host_arch=arm64 ;;
  *) host_arch=$(uname -m) ;;
esac
if [[ $root == / && $arch != "$host_arch" ]]; then
  die "$name is built for $arch, this machine is $host_arch"
fi

root=${root%/}
prefix="$root/opt/edgeplane-agent"
etc="$root/etc/edgeplane-agent"
unit_dst="$root/etc/systemd/system/edgeplane-agent.service"
bin_link="$root/usr/local/bin/edgeplane-agent"
user=edgeplane-agent

if [[ -z $root && $(id -u) -ne 0 ]]; then
  die "run as root (or with --root DIR to install into a directory)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" || die "$tarball: not a gzip tar archive"
[[ -f $work/edgeplane-agent ]] || die "$tarball: no edgeplane-agent binary at the top level"
addon=$(find "$work/node_modules/onnxruntime-node/bin" -name onnxruntime_binding.node -print -quit 2>/dev/null || true)
[[ -n $addon ]] || die "$tarball: no onnxruntime_binding.node under node_modules/onnxruntime-node beside the binary"

if [[ -z $root ]]; then
  # A binary that cannot start (wrong libc, truncated download) never replaces a working one.
  reported=$("$work/edgeplane-agent" --version 2>&1) || die "the new binary does not start: $reported"
  [[ $reported == *"$version"* ]] || die "the binary reports '$reported', the file name says $version"
fi

say "installing edgeplane-agent $version into $prefix/$version"
mkdir -p "$prefix"
rm -rf "$prefix/.$version.new"
mkdir "$prefix/.$version.new"
cp -R "$work/edgeplane-agent" "$work/node_modules" "$prefix/.$version.new/"
chmod 0755 "$prefix/.$version.new/edgeplane-agent"
rm -rf "${prefix:?}/${version:?}"
mv "$prefix/.$version.new" "$prefix/$version"

# Swap the current link atomically: rename over the old one, never remove it first.
previous=$(readlink "$prefix/current" 2>/dev/null || true)
ln -sfn "$version" "$prefix/.current.new"
mv -T "$prefix/.current.new" "$prefix/current"
mkdir -p "$(dirname "$bin_link")"
ln -sfn /opt/edgeplane-agent/current/edgeplane-agent "$bin_link"
[[ -n $previous && $previous != "$version" ]] && say "previous version $previous kept; roll back with: ln -sfn $previous $prefix/current && systemctl restart edgeplane-agent"

# Old versions beyond --keep, oldest first by modification time; never the current or previous one.
mapfile -t versions < <(find "$prefix" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -n | cut -d' ' -f2-)
excess=$((${#versions[@]} - keep))
for old in "${versions[@]}"; do
  ((excess > 0)) || break
  [[ $old == "$version" || $old == "$previous" ]] && continue
  say "removing old version $old"
  rm -rf "${prefix:?}/$old"
  excess=$((excess - 1))
done

if [[ -z $root ]] && ! id -u "$user" >/dev/null 2>&1; then
  say "creating system user $user"
  useradd --system --no-create-home --home-dir /var/lib/edgeplane-agent --shell /usr/sbin/nologin "$user"
fi

mkdir -p "$etc"
if [[ -e $etc/config.yaml ]]; then
  say "keeping $etc/config.yaml"
else
  install -m 0640 "$config_src" "$etc/config.yaml"
  say "wrote $etc/config.yaml from the example: set natsUrl and natsCreds"
fi
if [[ -z $root ]]; then
  chown root:"$user" "$etc" "$etc/config.yaml"
  chmod 0750 "$etc"
fi

mkdir -p "$(dirname "$unit_dst")"
install -m 0644 "$unit_src" "$unit_dst"
say "installed $unit_dst"

if ((systemd)); then
  systemctl daemon-reload
  if ((start)); then
    systemctl enable edgeplane-agent.service
    systemctl restart edgeplane-agent.service
    say "started; follow it with: journalctl -u edgeplane-agent -f"
  else
    systemctl enable edgeplane-agent.service
    say "enabled, not started: edit $etc/config.yaml, then systemctl start edgeplane-agent"
  fi
fi
say "done: edgeplane-agent $version"
