#!/usr/bin/env bash
# Pushes Wisp's runtime and platform images for amd64 and arm64 to a registry and makes one
# multi-arch manifest list per image there: REGISTRY/wisp/action-python:3.11 -> the -amd64 and
# -arm64 images, REGISTRY/wisp/controller:latest -> wisp/controller:latest-amd64 and
# latest-arm64, so a mixed cluster (x86 servers + Raspberry Pis / Graviton) pulls one name and
# Docker picks the node's architecture.
#
# Why a registry: a manifest list cannot live in this Docker's local image store (Docker 20.10
# with the overlay2 graph driver, no buildx, no containerd image store); `docker manifest create`
# only references images that are in a registry. Without a registry use the per-architecture
# tags locally: the invoker picks <tag>-arm64 on an aarch64 host (common::ImageForMachine).
#
# usage: tools/push-multiarch.sh REGISTRY [IMAGE...]
#   REGISTRY  host:port[/prefix], e.g. registry.example.com:5000 or 127.0.0.1:5000
#   IMAGE     runtimes: python nodejs native; platform images: controller invoker standalone
#             kafka-dev nginx pouchdb-server (default: the three runtimes)
# Needs the local images <tag>-amd64 and <tag>-arm64: tools/build-runtime-images.sh and
# tools/build-runtime-images.sh --arch arm64 for the runtimes, tools/build-images.sh and
# tools/build-images.sh --arch arm64 for the platform images (their latest tag). A registry on 127.0.0.1/localhost is spoken to
# over plain HTTP (--insecure); set WISP_REGISTRY_INSECURE=1 for another plain-HTTP registry.
set -euo pipefail

die() { echo "push-multiarch: $*" >&2; exit 1; }
step() { echo "==> $*"; }

[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
registry=${1%/}
shift
runtimes=("$@")
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(python nodejs native)

insecure=()
case $registry in
  127.0.0.1:*|localhost:*|127.0.0.1|localhost) insecure=(--insecure) ;;
esac
[[ ${WISP_REGISTRY_INSECURE:-0} == 1 ]] && insecure=(--insecure)

docker info >/dev/null 2>&1 || die "cannot talk to dockerd: start it (tools/start-dockerd.sh) and retry"

plain_image_of() {
  case $1 in
    python) echo wisp/action-python:3.11 ;;
    nodejs) echo wisp/action-nodejs:18 ;;
    native) echo wisp/action-native:latest ;;
    controller|invoker|standalone|kafka-dev|nginx|pouchdb-server) echo "wisp/$1:latest" ;;
    *) die "unknown image '$1' (python nodejs native controller invoker standalone kafka-dev nginx pouchdb-server)" ;;
  esac
}
build_command_of() {  # what makes the local <tag>-<arch> image of $1 for arch $2
  local script=build-runtime-images.sh
  case $1 in python|nodejs|native) ;; *) script=build-images.sh ;; esac
  echo "tools/$script$([[ $2 == arm64 ]] && echo ' --arch arm64') $1"
}

for rt in "${runtimes[@]}"; do
  plain=$(plain_image_of "$rt")
  list=$registry/$plain
  members=()
  for arch in amd64 arm64; do
    local_image=$plain-$arch
    docker image inspect "$local_image" >/dev/null 2>&1 ||
      die "$local_image is missing: build it with $(build_command_of "$rt" "$arch")"
    have=$(docker image inspect -f '{{.Architecture}}' "$local_image")
    [[ $have == "$arch" ]] || die "$local_image says architecture '$have', not $arch; rebuild it"
    remote=$registry/$local_image
    docker tag "$local_image" "$remote"
    step "pushing $remote"
    docker push "$remote" >/dev/null || die "docker push $remote failed (is $registry reachable, and are you logged in?)"
    docker rmi "$remote" >/dev/null  # only the registry tag; the local image keeps its own tags
    members+=("$remote")
  done
  step "manifest list $list -> ${members[*]}"
  docker manifest rm "$list" >/dev/null 2>&1 || true  # a stale local draft
  docker manifest create "${insecure[@]}" "$list" "${members[@]}" >/dev/null ||
    die "docker manifest create $list failed"
  docker manifest annotate "$list" "$registry/$plain-arm64" --os linux --arch arm64 --variant v8
  docker manifest push "${insecure[@]}" --purge "$list" >/dev/null || die "docker manifest push $list failed"
done
step "done: $(for rt in "${runtimes[@]}"; do printf '%s ' "$registry/$(plain_image_of "$rt")"; done)"
