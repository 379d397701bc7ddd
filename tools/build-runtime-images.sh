#!/usr/bin/env bash
# Builds Wisp's action runtime images without any image registry:
#   1. a Debian rootfs per runtime made by mmdebstrap (python3 / nodejs from Debian), `docker
#      import`ed as wisp/base-<runtime>:bookworm;
#   2. runtimes/<runtime>/Dockerfile on top of it, adding wisp-action-proxy (from the build dir)
#      and the launcher: wisp/action-python:3.11, wisp/action-nodejs:18, wisp/action-native:latest.
# Idempotent: every image carries a label with the hash of its inputs and is skipped when that
# hash matches. Needs a running dockerd, and mmdebstrap when a base image must be (re)built.
#
# usage: tools/build-runtime-images.sh [--arch ARCH] [--build-dir DIR] [--force] [--rebuild-base] [RUNTIME...]
#   RUNTIME: python nodejs native (default: all)
#   --arch ARCH       amd64 or arm64 (default: the host's). The host's architecture keeps the plain
#                     tags above and also gets -ARCH aliases (wisp/action-python:3.11-amd64);
#                     a foreign architecture gets only -ARCH tags (wisp/action-python:3.11-arm64,
#                     base wisp/base-python:bookworm-arm64) and runs under qemu-user-static, which
#                     tools/binfmt-arm64.sh registers (called from here).
#   --build-dir DIR   where bin/wisp-action-proxy is (default: build, or $WISP_BUILD_DIR; for a
#                     foreign --arch: build-ARCH, or $WISP_BUILD_DIR_<ARCH>, e.g. WISP_BUILD_DIR_ARM64)
#   --force           rebuild the runtime images even when up to date
#   --rebuild-base    also re-bootstrap the Debian base images (fresh packages)
#   --bases-only      build only the Debian base images (needs no action proxy)
# Environment: WISP_DEBIAN_MIRROR (default http://deb.debian.org/debian), WISP_DEBIAN_SUITE
# (default bookworm).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/lib/image-arch.sh
source "$root/tools/lib/image-arch.sh"
build_dir=""
host_arch=$(wisp_host_arch)
arch=$host_arch
suite=${WISP_DEBIAN_SUITE:-bookworm}
mirror=${WISP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=0
rebuild_base=0
bases_only=0
runtimes=()
label=wisp.inputs.hash

die() { echo "build-runtime-images: $*" >&2; exit 1; }
step() { echo "==> $*"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --arch) arch=$2; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --bases-only) bases_only=1; shift ;;
    --rebuild-base) rebuild_base=1; force=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    python|nodejs|native) runtimes+=("$1"); shift ;;
    *) die "unknown argument '$1' (runtimes: python nodejs native; see --help)" ;;
  esac
done
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(python nodejs native)
wisp_check_arch "$arch"
foreign=0
[[ $arch == "$host_arch" ]] || foreign=1
[[ -n $build_dir ]] || build_dir=$(wisp_default_build_dir "$arch" "$host_arch" "$root")
make_cmd=make
[[ $foreign -eq 0 ]] || make_cmd="make ARCH=$arch"
wanted_dir=$build_dir
[[ $bases_only -eq 1 ]] || build_dir=$(cd "$build_dir" 2>/dev/null && pwd) ||
  die "build directory '$wanted_dir' not found; run $make_cmd first (or --bases-only for the bases alone)"

# --- what each runtime is made of -----------------------------------------------------------
plain_image_of() {  # the tag the runtimes manifest names (runtimes/runtimes.json)
  case $1 in
    python) echo wisp/action-python:3.11 ;;
    nodejs) echo wisp/action-nodejs:18 ;;
    native) echo wisp/action-native:latest ;;
  esac
}
image_of() {  # the host's architecture keeps the plain tag; a foreign one gets <tag>-<arch>
  if [[ $foreign -eq 0 ]]; then plain_image_of "$1"; else echo "$(plain_image_of "$1")-$arch"; fi
}
packages_of() {  # Debian packages on top of minbase
  case $1 in
    python) echo python3 ;;
    nodejs) echo nodejs ;;
    native) echo "" ;;
  esac
}
base_of() {
  if [[ $foreign -eq 0 ]]; then echo "wisp/base-$1:$suite"; else echo "wisp/base-$1:$suite-$arch"; fi
}

# --- preconditions, with what to do about them --------------------------------------------
command -v docker >/dev/null || die "the docker CLI is missing: sudo apt-get install docker.io"
if ! docker info >/dev/null 2>&1; then
  if [[ ! -S /var/run/docker.sock ]]; then
    die "dockerd is not running (no /var/run/docker.sock): start it with 'sudo systemctl start docker' or 'sudo nohup dockerd >/tmp/dockerd.log 2>&1 &', then retry"
  fi
  die "cannot talk to dockerd at /var/run/docker.sock ($(docker info 2>&1 | tail -1)); is your user in the docker group?"
fi
proxy=$build_dir/bin/wisp-action-proxy
[[ $bases_only -eq 1 || -x $proxy ]] || die "$proxy not found: build it first ($make_cmd, or cmake --build $build_dir --target wisp-action-proxy)"
# An arm64 proxy in an amd64 image (or the reverse) would only fail when a container starts.
if [[ $bases_only -eq 0 ]] && command -v file >/dev/null; then
  file -L "$proxy" | grep -q "$(wisp_binary_machine "$arch")" ||
    die "$proxy is not an $arch binary ($(file -L -b "$proxy" | cut -d, -f1-2)); build it with $make_cmd, or pass the --arch it was built for"
fi
[[ $foreign -eq 0 ]] || wisp_enable_emulation "$root" "$arch" "$host_arch"
export DOCKER_BUILDKIT=0  # the classic builder: COPY-only Dockerfiles, no buildx, no network

hash_of() { sha256sum "$@" | sha256sum | cut -c1-32; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }

work=$(mktemp -d /tmp/wisp-runtime-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A stripped proxy: the image needs no debug info (the build keeps it for developers).
if [[ $bases_only -eq 0 ]]; then
  strip_tool=$(wisp_strip_tool "$arch")
  $strip_tool -o "$work/wisp-action-proxy" "$proxy" 2>/dev/null || cp "$proxy" "$work/wisp-action-proxy"
fi

# The base images of a foreign architecture say so in their config (tools/lib/image-arch.sh).
ensure_arch() {
  [[ $foreign -eq 1 ]] || return 0
  wisp_set_image_arch "$1" "$arch" "$work"
}

# --- 1. Debian base images ------------------------------------------------------------------
build_base() {
  local rt=$1 base pkgs want have
  base=$(base_of "$rt")
  pkgs=$(packages_of "$rt")
  want=$(echo "mmdebstrap minbase $suite $mirror [$pkgs] v1" | sha256sum | cut -c1-32)
  # a foreign architecture's hash names it (the host's stays as it was: no rebuild after upgrading)
  [[ $foreign -eq 0 ]] || want=$(echo "$want $arch" | sha256sum | cut -c1-32)
  have=$(label_of "$base")
  if [[ $rebuild_base -eq 0 && $have == "$want" ]]; then
    step "$base is up to date"
    ensure_arch "$base"
    return
  fi
  command -v mmdebstrap >/dev/null ||
    die "mmdebstrap is needed to bootstrap $base: sudo apt-get install mmdebstrap"
  [[ $foreign -eq 0 ]] || command -v arch-test >/dev/null ||
    die "mmdebstrap needs arch-test to bootstrap the foreign $base: sudo apt-get install arch-test"
  step "bootstrapping $base: Debian $suite minbase${pkgs:+ + $pkgs} (mmdebstrap)"
  local include=() archopt=() platform=()
  [[ -n $pkgs ]] && include=(--include="${pkgs// /,}")
  [[ $foreign -eq 0 ]] || { archopt=(--arch="$arch"); platform=(--platform "linux/$arch"); }
  local started=$SECONDS
  mmdebstrap --variant=minbase "${archopt[@]}" "${include[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$work/$rt-rootfs.tar" "$mirror" 2>&1 | sed 's/^/    /' ||
    die "mmdebstrap failed for $base (is $mirror reachable? set WISP_DEBIAN_MIRROR)"
  [[ -s $work/$rt-rootfs.tar ]] || die "mmdebstrap produced no rootfs for $base"
  docker import "${platform[@]}" \
    --change "LABEL $label=$want" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$work/$rt-rootfs.tar" "$base" >/dev/null
  rm -f "$work/$rt-rootfs.tar"
  ensure_arch "$base"
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
  # a foreign architecture builds on its own base (the Dockerfile names the host's)
  [[ $foreign -eq 0 ]] || sed -i "s|^FROM wisp/base-$rt:$suite\$|FROM $base|" "$ctx/Dockerfile"
  local platform=()
  [[ $foreign -eq 0 ]] || platform=(--platform "linux/$arch")
  want=$( (cd "$ctx" && hash_of $(ls | sort); docker image inspect -f '{{.Id}}' "$base") | sha256sum | cut -c1-32)
  have=$(label_of "$image")
  if [[ $force -eq 0 && $have == "$want" ]]; then
    step "$image is up to date"
    alias_arch "$rt"
    return
  fi
  step "building $image from runtimes/$rt/Dockerfile"
  if ! docker build "${platform[@]}" --label "$label=$want" --tag "$image" "$ctx" >"$work/$rt-build.log" 2>&1; then
    sed 's/^/    /' "$work/$rt-build.log" >&2
    die "docker build of $image failed"
  fi
  step "$image built ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
  alias_arch "$rt"
}
# The host's images also answer to <tag>-<arch>, so both architectures can be named the same way.
# (A multi-arch manifest list needs a registry or the containerd image store; this dockerd has
# neither, see deploy/images/README.md.)
alias_arch() {
  [[ $foreign -eq 0 ]] || return 0
  docker tag "$(image_of "$1")" "$(image_of "$1")-$arch"
}

for rt in "${runtimes[@]}"; do build_base "$rt"; done
if [[ $bases_only -eq 1 ]]; then
  step "done: $(for rt in "${runtimes[@]}"; do printf '%s ' "$(base_of "$rt")"; done)"
  exit 0
fi
for rt in "${runtimes[@]}"; do build_runtime "$rt"; done
step "done: $(for rt in "${runtimes[@]}"; do printf '%s ' "$(image_of "$rt")"; done)"
