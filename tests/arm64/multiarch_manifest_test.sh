#!/usr/bin/env bash
# Test of tools/push-multiarch.sh: starts a throwaway registry (Debian's docker-registry) on
# 127.0.0.1, pushes the runtime images of both architectures, and checks that each name is a
# manifest list whose linux/amd64 and linux/arm64 entries are the local -amd64 / -arm64 images
# (same config digest), and that `docker pull --platform linux/arm64` of the list gets arm64.
# Removes the registry, its storage and every tag it made.
#
# usage: tests/arm64/multiarch_manifest_test.sh [IMAGE...]   (default: python nodejs native;
#        platform images too: controller invoker standalone kafka-dev nginx pouchdb-server)
# Needs: dockerd, docker-registry (apt-get install docker-registry), the images of
# tools/build-runtime-images.sh and tools/build-runtime-images.sh --arch arm64.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runtimes=("$@")
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(python nodejs native)

die() { echo "multiarch_manifest_test: $*" >&2; exit 1; }
step() { echo "==> $*"; }

command -v docker-registry >/dev/null ||
  die "docker-registry is missing: sudo apt-get install docker-registry (only its binary is used)"
docker info >/dev/null 2>&1 || die "cannot talk to dockerd: start it (tools/start-dockerd.sh)"

dir=$(mktemp -d /tmp/wisp-registry.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry=127.0.0.1:$port
pulled=()
registry_pid=""
cleanup() {
  for t in "${pulled[@]}"; do docker rmi "$t" >/dev/null 2>&1 || true; done
  [[ -z $registry_pid ]] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: "$registry"}
EOF
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 50); do
  curl -fsS -m 2 "http://$registry/v2/" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS -m 2 "http://$registry/v2/" >/dev/null || die "the registry did not start: $(tail -5 "$dir/registry.log")"
step "registry at $registry"

"$root/tools/push-multiarch.sh" "$registry" "${runtimes[@]}"

plain_image_of() {
  case $1 in
    python) echo wisp/action-python:3.11 ;;
    nodejs) echo wisp/action-nodejs:18 ;;
    native) echo wisp/action-native:latest ;;
    *) echo "wisp/$1:latest" ;;  # a platform image (tools/build-images.sh)
  esac
}
failures=0
for rt in "${runtimes[@]}"; do
  plain=$(plain_image_of "$rt")
  list=$(docker manifest inspect --insecure "$registry/$plain") || { echo "FAIL: no manifest $registry/$plain" >&2; failures=$((failures + 1)); continue; }
  platforms=$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | sort | join(" ")' <<<"$list")
  if [[ $platforms != "linux/amd64 linux/arm64" ]]; then
    echo "FAIL: $registry/$plain lists '$platforms', want 'linux/amd64 linux/arm64'" >&2
    failures=$((failures + 1))
    continue
  fi
  # Pull the list for arm64: the image must be the local -arm64 one (same image id = config digest).
  docker pull -q --platform linux/arm64 "$registry/$plain" >/dev/null || die "docker pull --platform linux/arm64 $registry/$plain failed"
  pulled+=("$registry/$plain")
  got=$(docker image inspect -f '{{.Id}} {{.Architecture}}' "$registry/$plain")
  want="$(docker image inspect -f '{{.Id}}' "$plain-arm64") arm64"
  if [[ $got != "$want" ]]; then
    echo "FAIL: $registry/$plain pulled for arm64 is '$got', want '$want' ($plain-arm64)" >&2
    failures=$((failures + 1))
    continue
  fi
  step "$rt: $registry/$plain: $platforms; the arm64 pull is $plain-arm64"
done
[[ $failures -eq 0 ]] || die "$failures runtime(s) failed"
step "all ${#runtimes[@]} manifest list(s) ok"
