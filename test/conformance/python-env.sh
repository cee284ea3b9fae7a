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
# perf_analyzer's wheels are built for glibc 2.38 and later; an older C library gets a venv without it.
PERF_ANALYZER_PIN="perf-analyzer==2.60.0"

cache=${EDGEPLANE_CACHE:-$HOME/.cache/edgeplane}
key=$( (printf '%s\n' "${PINS[@]}" "$PERF_ANALYZER_PIN"; "$PYTHON" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
venv="$cache/venv/oip-$key"

if [ -f "$venv/.complete" ]; then
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
  glibc=$(ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$' || echo unknown)
  echo "$PERF_ANALYZER_PIN has wheels for glibc 2.38 and later only; this machine has glibc $glibc" >"$venv/.perf-analyzer"
  "$venv/bin/pip" uninstall --quiet -y perf-analyzer >&2 2>/dev/null || true
fi
touch "$venv/.complete"
echo "$venv"
