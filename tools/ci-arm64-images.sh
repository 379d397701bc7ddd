#!/usr/bin/env bash
# What CI runs for the arm64 images (issue 18), after the arm64 cross build (tools/ci-arm64.sh or
# make ARCH=arm64): the arm64 runtime images and platform images built on this amd64 host through
# qemu-user-static, then their smoke tests under `docker run --platform linux/arm64`. Prints the
# time of each step. The Debian bases are bootstrapped only when missing or stale (the first run
# takes about half an hour on 2 cores: 3 runtime bases ≈ 19 min, platform ≈ 9 min, nginx ≈ 5 min);
# with the bases present the whole script takes well under a minute.
#
# usage: tools/ci-arm64-images.sh [--build-dir DIR] [--no-platform]
#   --build-dir DIR  the arm64 tree with bin/ (default build-arm64)
#   --no-platform    only the runtime images and their smoke test
# Needs: dockerd (tools/start-dockerd.sh), mmdebstrap and arch-test when a base must be made,
# qemu-user-static + binfmt (tools/binfmt-arm64.sh, run by the build scripts), and in the build
# dir wisp-action-proxy, and for the platform images wisp-controller, wisp-invoker,
# wisp-standalone, wisp-admin, wsk and wisp-kafka-dev-broker.
set -euo pipefail
cd "$(dirname "$0")/.."

build="build-arm64"
platform=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --no-platform) platform=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "ci-arm64-images: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# pouchdb-server is left out: it needs tools/test-setup.sh's .cache/npm, and takes 11 s to build
# and 20 s to start under emulation (tools/build-images.sh --arch arm64 pouchdb-server builds it).
platform_images=(controller invoker standalone kafka-dev nginx)

start=$SECONDS
step_start=$SECONDS
current=""
step() {
  [[ -n $current ]] && echo "ci-arm64-images: $current took $((SECONDS - step_start)) s"
  current=$1
  step_start=$SECONDS
  [[ -z $1 ]] || echo "==> ci-arm64-images: $1"
}

step "arm64 runtime images (tools/build-runtime-images.sh --arch arm64 --build-dir $build)"
tools/build-runtime-images.sh --arch arm64 --build-dir "$build"
step "tests/arm64/runtime_images_arm64_smoke.sh"
tests/arm64/runtime_images_arm64_smoke.sh
if [[ $platform -eq 1 ]]; then
  step "arm64 platform images (tools/build-images.sh --arch arm64 --build-dir $build ${platform_images[*]})"
  tools/build-images.sh --arch arm64 --build-dir "$build" "${platform_images[@]}"
  step "tests/arm64/platform_images_arm64_smoke.sh ${platform_images[*]}"
  tests/arm64/platform_images_arm64_smoke.sh "${platform_images[@]}"
fi
step ""
echo "ci-arm64-images: total $((SECONDS - start)) s"
