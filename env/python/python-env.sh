#!/usr/bin/env bash
# Creates (once) the virtualenv the conformance suite and `bench serving` drive the agent from:
# Triton's client (HTTP and gRPC), the KServe SDK, onnxruntime for the KServe model server and,
# where the machine's C library allows it, perf_analyzer. The directory is keyed by the pinned
# versions, so a change of pins builds a new one and an unchanged one is reused as is.
# Prints the venv's directory on stdout; progress goes to stderr. Exit 1: no venv (reason on stderr).
set -euo pipefail

PYTHON=${EDGEPLANE_PYTHON:-python3}
PINS=(
  "tritonclient[http,grpc]==2.73.0"
  "kserve==0.21.0"
  "onnxruntime==1.23.2"
)
# perf_analyzer's own wheels are built for glibc 2.38 and later. On an older C library the binary
# that tritonclient's manylinux wheels shipped until 2.60 is used instead: 2.51.0 is the last built
# for glibc 2.34 (2.52 on needs 2.38). It links libb64 (a Debian package) and libcudart (NVIDIA's
# runtime wheel on PyPI; loaded only, no GPU is used), which go into a directory of its own beside it.
PERF_ANALYZER_PIN="perf-analyzer==2.60.0"
PA_FALLBACK_VERSION="2.51.0"
PA_CUDART_PIN="nvidia-cuda-runtime-cu12==12.9.79"
PA_B64_DEB="libb64-0d"

cache=${EDGEPLANE_CACHE:-$HOME/.cache/edgeplane}
key=$( (printf '%s\n' "${PINS[@]}" "$PERF_ANALYZER_PIN"; "$PYTHON" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
venv="$cache/venv/oip-$key"

# Installs the older perf_analyzer under $cache/perf-analyzer/<version>/ (once; a binary that does not
# run is remembered there too) and links it into the venv. Returns 1 with the reason on stdout when it cannot.
fallback_perf_analyzer() {
  local dir="$cache/perf-analyzer/$PA_FALLBACK_VERSION" tmp
  if [ ! -f "$dir/.complete" ] && [ ! -f "$dir/.failed" ]; then
    echo "[python-env] installing perf_analyzer $PA_FALLBACK_VERSION (tritonclient wheel) into $dir" >&2
    rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/lib"
    tmp=$(mktemp -d)
    # A chain, not set -e: errexit does not apply inside an if condition.
    if (
      cd "$tmp" &&
      "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d . "tritonclient==$PA_FALLBACK_VERSION" "$PA_CUDART_PIN" &&
      unzip -q -j -o "tritonclient-$PA_FALLBACK_VERSION-py3-none-manylinux1_x86_64.whl" \
        "tritonclient-$PA_FALLBACK_VERSION.data/data/bin/perf_analyzer" -d "$dir/bin" &&
      mv "$dir/bin/perf_analyzer" "$dir/bin/perf_analyzer.bin" && chmod +x "$dir/bin/perf_analyzer.bin" &&
      unzip -q -j -o nvidia_cuda_runtime_cu12-*.whl 'nvidia/cuda_runtime/lib/libcudart.so.12' -d "$dir/lib" &&
      apt-get download "$PA_B64_DEB" 2>/dev/null &&
      dpkg-deb -x "$PA_B64_DEB"_*.deb deb &&
      cp deb/usr/lib/*/libb64.so.0d "$dir/lib/"
    ) >&2; then
      printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/bin/perf_analyzer.bin" "$@"\n' "$dir" "$dir" >"$dir/bin/perf_analyzer"
      chmod +x "$dir/bin/perf_analyzer"
      if "$dir/bin/perf_analyzer" --version >/dev/null 2>&1; then touch "$dir/.complete"; else echo "does not run: $("$dir/bin/perf_analyzer" --version 2>&1 | head -1)" >"$dir/.failed"; fi
    else
      # Not remembered: the next run tries again (the index or network may be back).
      rm -rf "$tmp" "$dir"
      echo "perf_analyzer $PA_FALLBACK_VERSION from tritonclient's wheel: could not download tritonclient==$PA_FALLBACK_VERSION, $PA_CUDART_PIN or $PA_B64_DEB"
      return 1
    fi
    rm -rf "$tmp"
  fi
  if [ -f "$dir/.complete" ]; then
    ln -sf "$dir/bin/perf_analyzer" "$venv/bin/perf_analyzer"
    return 0
  fi
  echo "perf_analyzer $PA_FALLBACK_VERSION from tritonclient's wheel: $(cat "$dir/.failed")"
  return 1
}

# Settles $venv/.perf-analyzer: "available", or why not.
settle_perf_analyzer() {
  local glibc reason
  [ "$(cat "$venv/.perf-analyzer" 2>/dev/null)" = available ] && return 0
  if reason=$(fallback_perf_analyzer); then
    echo "available" >"$venv/.perf-analyzer"
  else
    glibc=$(ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$' || echo unknown)
    echo "$PERF_ANALYZER_PIN has wheels for glibc 2.38 and later only (this machine has glibc $glibc); $reason" >"$venv/.perf-analyzer"
  fi
}

if [ -f "$venv/.complete" ]; then
  settle_perf_analyzer
  echo "$venv"
  exit 0
fi

command -v "$PYTHON" >/dev/null || { echo "no $PYTHON on PATH" >&2; exit 1; }
rm -rf "$venv"
mkdir -p "$cache/venv"
"$PYTHON" -m venv "$venv" >&2 || { echo "$PYTHON -m venv failed" >&2; exit 1; }
echo "[python-env] installing ${PINS[*]} into $venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 || { echo "pip install ${PINS[*]} failed" >&2; rm -rf "$venv"; exit 1; }
if "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$PERF_ANALYZER_PIN" >&2 2>/dev/null &&
   "$venv/bin/perf_analyzer" --version >/dev/null 2>&1; then
  echo "available" >"$venv/.perf-analyzer"
else
  "$venv/bin/pip" uninstall --quiet -y perf-analyzer >&2 2>/dev/null || true
  settle_perf_analyzer
fi
touch "$venv/.complete"
echo "$venv"
