#!/usr/bin/env bash
# Builds only what the `unit` ctest label runs (the sanitizer builds need no platform binaries,
# e2e tests or benchmarks): every unit test target, plus the executables and tools (helm-render)
# that script tests call.
# Usage: tools/build-unit-tests.sh BUILD_DIR [JOBS]
set -euo pipefail
build=$1
jobs=${2:-$(nproc)}
cd "$build"
targets=()
while read -r t; do
  if ninja -t query "$t" >/dev/null 2>&1; then targets+=("$t"); fi
done < <(ctest -N -L unit | sed -n 's/^ *Test *#[0-9]*: //p')
for extra in wisp-admin wisp-action-proxy wsk wisp-bench-journal helm-render; do
  if ninja -t query "$extra" >/dev/null 2>&1; then targets+=("$extra"); fi
done
echo "build-unit-tests: ${#targets[@]} targets in $build"
ninja -j "$jobs" "${targets[@]}"
