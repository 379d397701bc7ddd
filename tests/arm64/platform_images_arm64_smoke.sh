#!/usr/bin/env bash
# Smoke test of the arm64 platform images under emulation (issue 18): for each image it runs
# `docker run --platform linux/arm64` of wisp/<image>:latest-arm64 and checks that the image says
# architecture arm64, that `uname -m` in it is aarch64, that every Wisp binary it carries answers
# --help (so its shared libraries are all in the image), and for wisp/standalone that it starts
# (--no-stem-cells, the host's Docker socket mounted) far enough to answer GET / on a port
# published on 127.0.0.1 only; wisp/pouchdb-server (when named) that node loads it and that it
# answers GET / the same way. Removes only the containers it started.
#
# usage: tests/arm64/platform_images_arm64_smoke.sh [IMAGE...]
#   IMAGE: controller invoker standalone kafka-dev nginx pouchdb-server
#          (default: controller invoker standalone kafka-dev nginx)
# Needs: a running dockerd, the images from `tools/build-images.sh --arch arm64`, and on a
# non-arm64 host qemu-aarch64 registered (tools/binfmt-arm64.sh). wisp/standalone checks the
# arm64 runtime images at start: build them first (tools/build-runtime-images.sh --arch arm64).
# Exit 0 = all passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=(controller invoker standalone kafka-dev nginx)
startup_s=${WISP_SMOKE_STARTUP_S:-180}
docker_socket=${WISP_DOCKER_SOCKET:-/var/run/docker.sock}

step() { echo "==> $*"; }
fail() { echo "platform_images_arm64_smoke: FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "platform_images_arm64_smoke: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "cannot talk to dockerd: start it (tools/start-dockerd.sh) and retry"
case $(uname -m) in
  aarch64|arm64) ;;
  *) "$root/tools/binfmt-arm64.sh" --check >/dev/null ||
       die "qemu-aarch64 is not registered, so arm64 images cannot run here: run tools/binfmt-arm64.sh --install as root" ;;
esac

binaries_of() {  # what tools/build-images.sh puts into each image
  case $1 in
    controller) echo wisp-controller wisp-admin wsk ;;
    invoker) echo wisp-invoker wisp-admin ;;
    standalone) echo wisp-standalone wsk ;;
    kafka-dev) echo wisp-kafka-dev-broker ;;
    nginx|pouchdb-server) echo "" ;;
    *) die "unknown image '$1' (controller invoker standalone kafka-dev nginx pouchdb-server)" ;;
  esac
}

containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# in IMAGE PROGRAM ARGS...: runs PROGRAM in a throwaway arm64 container, prints its output.
in_image() {
  local image=$1 program=$2
  shift 2
  docker run --rm --platform linux/arm64 --label wisp.test=arm64-smoke --entrypoint "$program" \
    "$image" "$@" 2>&1
}

# serves IMG PORT DOCKER_RUN_ARGS...: starts the image detached with PORT published on 127.0.0.1
# and waits until GET / answers 200 with a JSON object; removes the container. 1 = failed.
serves() {
  local img=$1 port=$2 name code body host_port deadline
  shift 2
  name=wisp-arm64-smoke-$img-$$
  docker run -d --platform linux/arm64 --name "$name" --label wisp.test=arm64-smoke \
    -p "127.0.0.1::$port" "$@" >/dev/null || { fail "$img: docker run failed"; return 1; }
  containers+=("$name")
  host_port=$(docker port "$name" "$port/tcp" | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -1)
  [[ -n $host_port ]] || { fail "$img: no 127.0.0.1 port published"; return 1; }
  code=000
  deadline=$((SECONDS + startup_s))
  while ((SECONDS < deadline)); do
    code=$(curl -s -m 5 -o /tmp/wisp-arm64-platform-smoke.$$ -w '%{http_code}' "http://127.0.0.1:$host_port/" 2>/dev/null || true)
    [[ $code == 200 ]] && break
    [[ $(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
    sleep 1
  done
  body=$(cat /tmp/wisp-arm64-platform-smoke.$$ 2>/dev/null || true)
  rm -f /tmp/wisp-arm64-platform-smoke.$$
  if [[ $code != 200 ]]; then
    fail "$img: GET / answered '$code' within ${startup_s}s (want 200); logs: $(docker logs "$name" 2>&1 | tail -5)"
    return 1
  fi
  jq -e 'type == "object"' <<<"$body" >/dev/null 2>&1 ||
    { fail "$img: GET / is not a JSON object: ${body:0:200}"; return 1; }
  docker rm -f "$name" >/dev/null 2>&1 || true
}

failures=0
started=$SECONDS
for img in "${images[@]}"; do
  bins=$(binaries_of "$img")
  image=wisp/$img:latest-arm64
  t0=$SECONDS
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    fail "$img: image $image is missing: build it with tools/build-images.sh --arch arm64 $img"
    continue
  fi
  img_arch=$(docker image inspect -f '{{.Architecture}}' "$image")
  [[ $img_arch == arm64 ]] || { fail "$img: $image has architecture '$img_arch', not arm64"; continue; }
  step "$img: docker run --platform linux/arm64 $image"
  machine=$(in_image "$image" uname -m) || { fail "$img: uname -m did not run: $machine"; continue; }
  [[ $machine == aarch64 ]] || { fail "$img: uname -m says '$machine', want aarch64"; continue; }
  ok=1
  for b in $bins; do
    out=$(in_image "$image" "/usr/local/bin/$b" --help) || {
      fail "$img: $b --help failed: $(tail -3 <<<"$out")"; ok=0; continue; }
    grep -q "Usage:" <<<"$out" || { fail "$img: $b --help printed no 'Usage:' line: $(head -3 <<<"$out")"; ok=0; continue; }
  done
  case $img in
    nginx)
      out=$(in_image "$image" nginx -v) || { fail "$img: nginx -v failed: $out"; ok=0; }
      [[ $ok -eq 0 ]] || grep -q "nginx version" <<<"$out" || { fail "$img: nginx -v printed '$out'"; ok=0; } ;;
    pouchdb-server)
      out=$(in_image "$image" node -e 'require("/opt/pouchdb/node_modules/pouchdb-server/package.json"); console.log(process.arch)') ||
        { fail "$img: node cannot load pouchdb-server: $(tail -3 <<<"$out")"; ok=0; }
      [[ $ok -eq 0 || $out == arm64 ]] || { fail "$img: node says arch '$out', want arm64"; ok=0; } ;;
  esac
  [[ $ok -eq 1 ]] || continue
  checked=${bins:+$bins --help}
  [[ $img != nginx ]] || checked=$out
  [[ $img != pouchdb-server ]] || checked="node loads pouchdb-server"
  version=$(docker image inspect -f '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$image")

  case $img in
    standalone)
      [[ -S $docker_socket ]] || { fail "$img: no Docker socket at $docker_socket (set WISP_DOCKER_SOCKET)"; continue; }
      # Its own port inside the container: the invoker id (and the label of the containers it
      # would remove as orphans at start) is 0-<port>, never another standalone's.
      port=$((40000 + $$ % 20000))
      serves "$img" "$port" -v "$docker_socket:/var/run/docker.sock" -e WISP_STANDALONE_PORT="$port" \
        "$image" --no-stem-cells || continue
      checked+=", GET / 200" ;;
    pouchdb-server)
      serves "$img" 5984 "$image" || continue
      checked+=", GET / 200" ;;
  esac
  step "$img: ok: aarch64, $checked, version $version ($((SECONDS - t0)) s)"
done

if [[ $failures -gt 0 ]]; then
  echo "platform_images_arm64_smoke: $failures failure(s) in ${#images[@]} image(s) ($((SECONDS - started)) s)" >&2
  exit 1
fi
step "all ${#images[@]} arm64 platform image(s) passed ($((SECONDS - started)) s)"
