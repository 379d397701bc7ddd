#!/usr/bin/env bash
# Builds Wisp's action runtime images without any image registry:
#   1. a Debian rootfs per runtime made by mmdebstrap (python3 / nodejs from Debian), `docker
#      import`ed as wisp/base-<runtime>:bookworm;
#   2. runtimes/<runtime>/Dockerfile on top of it, adding wisp-action-proxy (from the build dir)
#      and the launcher: wisp/action-python:3.11, wisp/action-nodejs:18, wisp/action-native:latest.
# Idempotent: every image carries a label with the hash of its inputs and is skipped when that
# hash matches. Needs a running dockerd, and mmdebstrap when a base image must be (re)built.
#
# usage: tools/build-runtime-images.sh [--build-dir DIR] [--force] [--rebuild-base] [RUNTIME...]
#   RUNTIME: python nodejs native (default: all)
#   --build-dir DIR   where bin/wisp-action-proxy is (default: build, or $WISP_BUILD_DIR)
#   --force           rebuild the runtime images even when up to date
#   --rebuild-base    also re-bootstrap the Debian base images (fresh packages)
# Environment: WISP_DEBIAN_MIRROR (default http://deb.debian.org/debian), WISP_DEBIAN_SUITE
# (default bookworm).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${WISP_BUILD_DIR:-$root/build}
suite=${WISP_DEBIAN_SUITE:-bookworm}
mirror=${WISP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=0
rebuild_base=0
runtimes=()
label=wisp.inputs.hash

die() { echo "build-runtime-images: $*" >&2; exit 1; }
step() { echo "==> $*"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --rebuild-base) rebuild_base=1; force=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    python|nodejs|native) runtimes+=("$1"); shift ;;
    *) die "unknown argument '$1' (runtimes: python nodejs native; see --help)" ;;
  esac
done
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(python nodejs native)
build_dir=$(cd "$build_dir" 2>/dev/null && pwd) || die "build directory '$build_dir' not found; run make first"

# --- what each runtime is made of -----------------------------------------------------------
image_of() {
  case $1 in
    python) echo wisp/action-python:3.11 ;;
    nodejs) echo wisp/action-nodejs:18 ;;
    native) echo wisp/action-native:latest ;;
  esac
}
packages_of() {  # Debian packages on top of minbase
  case $1 in
    python) echo python3 ;;
    nodejs) echo nodejs ;;
    native) echo "" ;;
  esac
}
base_of() { echo "wisp/base-$1:$suite"; }

# --- preconditions, with what to do about them --------------------------------------------
command -v docker >/dev/null || die "the docker CLI is missing: sudo apt-get install docker.io"
if ! docker info >/dev/null 2>&1; then
  if [[ ! -S /var/run/docker.sock ]]; then
    die "dockerd is not running (no /var/run/docker.sock): start it with 'sudo systemctl start docker' or 'sudo nohup dockerd >/tmp/dockerd.log 2>&1 &', then retry"
  fi
  die "cannot talk to dockerd at /var/run/docker.sock ($(docker info 2>&1 | tail -1)); is your user in the docker group?"
fi
proxy=$build_dir/bin/wisp-action-proxy
[[ -x $proxy ]] || die "$proxy not found: build it first (make, or cmake --build $build_dir --target wisp-action-proxy)"
export DOCKER_BUILDKIT=0  # the classic builder: COPY-only Dockerfiles, no buildx, no network

hash_of() { sha256sum "$@" | sha256sum | cut -c1-32; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }

work=$(mktemp -d /tmp/wisp-runtime-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A stripped proxy: the image needs no debug info (the build keeps it for developers).
strip -o "$work/wisp-action-proxy" "$proxy" 2>/dev/null || cp "$proxy" "$work/wisp-action-proxy"

# --- 1. Debian base images ------------------------------------------------------------------
build_base() {
  local rt=$1 base pkgs want have
  base=$(base_of "$rt")
  pkgs=$(packages_of "$rt")
  want=$(echo "mmdebstrap minbase $suite $mirror [$pkgs] v1" | sha256sum | cut -c1-32)
  have=$(label_of "$base")
  if [[ $rebuild_base -eq 0 && $have == "$want" ]]; then
    step "$base is up to date"
    return
  fi
  command -v mmdebstrap >/dev/null ||
    die "mmdebstrap is needed to bootstrap $base: sudo apt-get install mmdebstrap"
  step "bootstrapping $base: Debian $suite minbase${pkgs:+ + $pkgs} (mmdebstrap)"
  local include=()
  [[ -n $pkgs ]] && include=(--include="${pkgs// /,}")
  local started=$SECONDS
  mmdebstrap --variant=minbase "${include[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$work/$rt-rootfs.tar" "$mirror" 2>&1 | sed 's/^/    /' ||
    die "mmdebstrap failed for $base (is $mirror reachable? set WISP_DEBIAN_MIRROR)"
  [[ -s $work/$rt-rootfs.tar ]] || die "mmdebstrap produced no rootfs for $base"
  docker import \
    --change "LABEL $label=$want" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$work/$rt-rootfs.tar" "$base" >/dev/null
  rm -f "$work/$rt-rootfs.tar"
  step "$base imported in $((SECONDS - started)) s ($(docker image inspect -f '{{.Size}}' "$base" | numfmt --to=iec))"
}

# --- 2. runtime images ----------------------------------------------------------------------
build_runtime() {
  local rt=$1 image base ctx want have
  image=$(image_of "$rt")
  base=$(base_of "$rt")
  ctx=$work/$rt
  mkdir -p "$ctx"
  cp "$work/wisp-action-proxy" "$ctx/"
  cp "$root/runtimes/$rt"/* "$ctx/"
  want=$( (cd "$ctx" && hash_of $(ls | sort); docker image inspect -f '{{.Id}}' "$base") | sha256sum | cut -c1-32)
  have=$(label_of "$image")
  if [[ $force -eq 0 && $have == "$want" ]]; then
    step "$image is up to date"
    return
  fi
  step "building $image from runtimes/$rt/Dockerfile"
  if ! docker build --label "$label=$want" --tag "$image" "$ctx" >"$work/$rt-build.log" 2>&1; then
    sed 's/^/    /' "$work/$rt-build.log" >&2
    die "docker build of $image failed"
  fi
  step "$image built ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
}

for rt in "${runtimes[@]}"; do build_base "$rt"; done
for rt in "${runtimes[@]}"; do build_runtime "$rt"; done
step "done: $(for rt in "${runtimes[@]}"; do printf '%s ' "$(image_of "$rt")"; done)"
