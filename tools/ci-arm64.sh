#!/usr/bin/env bash
# What CI runs for arm64 (issue 18): the cross build of the action proxy, wisp-standalone and the
# unit test binaries of a few suites that finish in minutes under qemu-user, then those suites
# under qemu-aarch64-static (ctest's CMAKE_CROSSCOMPILING_EMULATOR), a check that the binaries are
# aarch64 ELF files and a smoke run of both under qemu. Prints what it builds and runs and the
# time of each step. `make ARCH=arm64` / `make test-unit ARCH=arm64` build and run all of it.
#
# usage: tools/ci-arm64.sh [--build-dir DIR] [--jobs N] [--full] [--e2e | --e2e-only]
#   --build-dir DIR  the arm64 tree (default build-arm64, preset arm64)
#   --jobs N         parallel compile and test jobs (default nproc)
#   --full           every binary and the whole arm64-unit test preset (slow under qemu)
#   --e2e            then the platform end to end under qemu: the arm64 wsk is built too, dockerd
#                    started, the arm64 runtime images built (tools/build-runtime-images.sh --arch
#                    arm64: ≈19 min the first time, for the bases; ≈1 s when up to date) and
#                    tests/arm64/standalone_arm64_e2e.sh run (`make test-arm64-e2e`)
#   --e2e-only       --e2e without the unit suites
# Needs tools/install-deps.sh --arch arm64 (run first when the cross compiler is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

build="build-arm64"
jobs=$(nproc)
full=0
e2e=0
units=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --jobs|-j) jobs=$2; shift 2 ;;
    --full) full=1; shift ;;
    --e2e) e2e=1; shift ;;
    --e2e-only) e2e=1; units=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "ci-arm64: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The suites CI runs under qemu: each finishes in well under a minute there (tools/ci-arm64.sh
# --full measures the others). action_proxy_* cover the binary that runs inside arm64 action
# containers; common/loadbalancer/messaging/store cover the platform's own code paths.
suites=(action_proxy_test action_proxy_host_test common_test loadbalancer_test messaging_test
        messaging_contract_inprocess sqlite_store_test store_contract_sqlite)
binaries=(wisp-action-proxy wisp-standalone)
[[ $e2e -eq 0 ]] || binaries+=(wsk)

export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
start=$(date +%s)
step_start=$start
step() {
  local now
  now=$(date +%s)
  [[ -n ${current:-} ]] && echo "ci-arm64: ${current} took $((now - step_start)) s"
  current=$1
  step_start=$now
  echo "==> ci-arm64: $1"
}

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64-static >/dev/null ||
   ! dpkg-query -W -f='${Status}' libgrpc++-dev:arm64 2>/dev/null | grep -q "install ok installed"; then
  step "installing the cross toolchain (tools/install-deps.sh --arch arm64)"
  tools/install-deps.sh --arch arm64
fi

# arm64 programs that start other arm64 programs (action_proxy_host_test starts the proxy) need
# binfmt_misc; ctest itself runs each test binary through qemu-aarch64-static.
binfmt=1
if [[ -x tools/binfmt-arm64.sh ]]; then
  tools/binfmt-arm64.sh >/dev/null 2>&1 || true
  tools/binfmt-arm64.sh --check || binfmt=0
elif [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  binfmt=0
fi

step "configure $build (preset arm64)"
cmake --preset arm64 -B "$build" >/dev/null

if [[ $full -eq 1 ]]; then
  step "build every target for arm64 (-j $jobs)"
  cmake --build "$build" -j "$jobs"
else
  targets=("${binaries[@]}")
  [[ $units -eq 0 ]] || targets+=("${suites[@]}")
  step "build ${targets[*]} for arm64 (-j $jobs)"
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
fi

step "check that the binaries are aarch64 and run under qemu-aarch64-static"
for b in "${binaries[@]}"; do
  f=$build/bin/$b
  machine=$(aarch64-linux-gnu-readelf -h "$f" | sed -n 's/^ *Machine: *//p')
  if [[ $machine != AArch64 ]]; then
    echo "ci-arm64: $f is a '$machine' ELF file, not AArch64: is $build configured with" \
         "cmake/toolchains/aarch64-linux-gnu.cmake (preset arm64)?" >&2
    exit 1
  fi
  if command -v file >/dev/null; then file -b "$f" | cut -d, -f1-2; fi
  out=$(qemu-aarch64-static "$f" --help 2>&1) || {
    echo "ci-arm64: qemu-aarch64-static $f --help failed:" >&2
    echo "$out" | tail -20 >&2
    exit 1
  }
  grep -qi "usage" <<<"$out" || {
    echo "ci-arm64: $f --help under qemu printed no usage line:" >&2
    echo "$out" | head -20 >&2
    exit 1
  }
  echo "ci-arm64: $b: AArch64, $(du -h "$f" | cut -f1), --help answers under qemu"
done

if [[ $units -eq 1 ]]; then
  # Not --preset arm64-unit: with --test-dir another tree, ctest 3.25 writes Testing/ into the
  # preset's build-arm64. The same filter: the unit label but the host-only checks.
  ctest_args=(--test-dir "$build" -j "$jobs" -L unit --output-on-failure --no-tests=error
              -E '^(lint_.*|nginx_front_test|helm_chart_test|grafana_dashboard_test|console_unit_test)$')
  if [[ $full -eq 1 ]]; then
    step "ctest: the unit label under qemu-user (as the test preset arm64-unit)"
    echo "ci-arm64: not run under qemu-user: lint_*, nginx_front_test, helm_chart_test," \
         "grafana_dashboard_test, console_unit_test (host-only checks: no arm64 code in them;" \
         "the amd64 tree runs them)"
  else
    run=("${suites[@]}")
    if [[ $binfmt -eq 0 ]]; then
      echo "ci-arm64: SKIPPED action_proxy_host_test: binfmt_misc has no qemu-aarch64 entry, so the" \
           "arm64 test cannot start the arm64 proxy (run tools/binfmt-arm64.sh as root)"
      run=("${run[@]/action_proxy_host_test/}")
    fi
    regex="^($(printf '%s\n' "${run[@]}" | sed '/^$/d' | paste -sd'|'))\$"
    ctest_args+=(-R "$regex")
    step "ctest under qemu-user: ${run[*]}"
  fi
  status=0
  ctest "${ctest_args[@]}" || status=$?
  # Parts of suites that cannot work under qemu-user skip with a Catch2 warning saying why; ctest
  # shows a passing test's output only with -V, so they are listed here.
  log=$build/Testing/Temporary/LastTest.log
  if grep -q "skipped" "$log" 2>/dev/null; then
    echo "ci-arm64: skipped under qemu-user (each says why):"
    grep -h -A2 "skipped" "$log" | grep -v -- "^--$" | sed 's/^/    /'
  fi
  [[ $status -eq 0 ]] || { echo "ci-arm64: unit tests failed under qemu-user (see above)" >&2; exit 1; }
fi

if [[ $e2e -eq 1 ]]; then
  # The arm64 wisp-standalone and wsk under qemu-user on the -arm64 runtime images.
  if [[ $binfmt -eq 0 && $(uname -m) != aarch64 ]]; then
    echo "ci-arm64: the e2e test runs arm64 programs that start others and arm64 containers:" \
         "qemu-aarch64 must be in binfmt_misc (run tools/binfmt-arm64.sh as root)" >&2
    exit 1
  fi
  step "start dockerd and build the arm64 runtime images (tools/build-runtime-images.sh --arch arm64)"
  tools/start-dockerd.sh
  tools/build-runtime-images.sh --arch arm64 --build-dir "$build"
  step "tests/arm64/standalone_arm64_e2e.sh (the platform end to end under qemu-user)"
  tests/arm64/standalone_arm64_e2e.sh --build-dir "$build"
fi

step "done"
echo "ci-arm64: total $(($(date +%s) - start)) s"
