#!/usr/bin/env bash
# Builds Wisp's platform images without any image registry (deploy/images/README.md):
#   wisp/controller      wisp-controller, wisp-admin, wsk        user wisp (uid 10001)
#   wisp/invoker         wisp-invoker, wisp-admin                root: it drives the Docker socket
#   wisp/standalone      wisp-standalone, wsk                    root: it drives the Docker socket
#   wisp/kafka-dev       wisp-kafka-dev-broker (local use)       user wisp (uid 10001)
#   wisp/pouchdb-server  pouchdb-server --in-memory (local use)  user wisp (uid 10001)
#   wisp/nginx           Debian nginx + deploy/nginx             master root (80/443), workers www-data
# How: 1. Debian rootfs made by mmdebstrap, `docker import`ed once and shared:
#      wisp/base-platform:<suite> (minbase + exactly the Debian library packages the binaries
#      load, found with ldd and dpkg -S, + curl for health checks + ca-certificates),
#      wisp/base-nodejs:<suite> (the runtime images' base) and wisp/base-nginx:<suite>;
#   2. deploy/images/<image>/Dockerfile on top, with the stripped binaries from the build dir
#      (pouchdb-server: the one tools/test-setup.sh installed into .cache/npm).
# Tags: <version>-<git short sha> and latest (version: CMakeLists.txt project()), and the same
# with -<arch> (latest-amd64). Every image carries label wisp.inputs.hash (binaries + scripts +
# Dockerfile + base image) and is skipped, only re-tagged, when that matches. Needs a running
# dockerd, and mmdebstrap when a base image must be (re)built.
# Another architecture (--arch arm64 on an amd64 host) gets only the -<arch> tags
# (wisp/controller:latest-arm64) from its own bases (wisp/base-platform:bookworm-arm64, made by
# mmdebstrap --arch arm64 under qemu-user-static, which tools/binfmt-arm64.sh registers) and the
# binaries of the cross build (make ARCH=arm64 -> build-arm64).
#
# usage: tools/build-images.sh [--arch ARCH] [--build-dir DIR] [--force] [--rebuild-base] [--list] [IMAGE...]
#   IMAGE: controller invoker standalone kafka-dev pouchdb-server nginx (default: all;
#          wisp/controller also works)
#   --arch ARCH       amd64 or arm64 (default: the host's)
#   --build-dir DIR   where bin/wisp-* are (default: build, or $WISP_BUILD_DIR; for a foreign
#                     --arch: build-ARCH, or $WISP_BUILD_DIR_<ARCH>, e.g. WISP_BUILD_DIR_ARM64)
#   --force           rebuild the images even when up to date
#   --rebuild-base    also re-bootstrap the Debian base images (fresh packages)
#   --list            print each image with its two tags and exit
# Environment: WISP_DEBIAN_MIRROR (default http://deb.debian.org/debian), WISP_DEBIAN_SUITE
# (default bookworm), WISP_NPM_DIR (where pouchdb-server is installed; default .cache/npm, made
# by tools/test-setup.sh).
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
list=0
images=()
all_images=(controller invoker standalone kafka-dev pouchdb-server nginx)
label=wisp.inputs.hash

die() { echo "build-images: $*" >&2; exit 1; }
step() { echo "==> $*"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --arch) [[ $# -ge 2 ]] || die "--arch needs amd64 or arm64"; arch=$2; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --rebuild-base) rebuild_base=1; force=1; shift ;;
    --list) list=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    wisp/*) images+=("${1#wisp/}"); shift ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) images+=("$1"); shift ;;
  esac
done
[[ ${#images[@]} -gt 0 ]] || images=("${all_images[@]}")
for i in "${images[@]}"; do
  [[ " ${all_images[*]} " == *" $i "* ]] || die "unknown image '$i' (images: ${all_images[*]})"
done
wisp_check_arch "$arch"
foreign=0
[[ $arch == "$host_arch" ]] || foreign=1
[[ -n $build_dir ]] || build_dir=$(wisp_default_build_dir "$arch" "$host_arch" "$root")
make_cmd="make"
[[ $foreign -eq 0 ]] || make_cmd="make ARCH=$arch"

# --- names and tags -------------------------------------------------------------------------
version=$(sed -n 's/^project([^)]*VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt" | head -1)
[[ -n $version ]] || die "no VERSION in project() of $root/CMakeLists.txt"
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
short=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo nogit)
tag=$version-$short
latest=latest
# The host's architecture keeps the plain tags (and gets -<arch> aliases); another gets only those.
if [[ $foreign -eq 1 ]]; then
  tag=$tag-$arch
  latest=latest-$arch
fi
if [[ $list -eq 1 ]]; then
  for i in "${images[@]}"; do echo "wisp/$i:$tag wisp/$i:$latest"; done
  exit 0
fi

binaries_of() {  # what each image takes from the build dir
  case $1 in
    controller) echo wisp-controller wisp-admin wsk ;;
    invoker) echo wisp-invoker wisp-admin ;;
    standalone) echo wisp-standalone wsk ;;
    kafka-dev) echo wisp-kafka-dev-broker ;;
    *) echo "" ;;
  esac
}
base_kind_of() {
  case $1 in
    pouchdb-server) echo nodejs ;;
    nginx) echo nginx ;;
    *) echo platform ;;
  esac
}
base_of() {
  if [[ $foreign -eq 0 ]]; then echo "wisp/base-$1:$suite"; else echo "wisp/base-$1:$suite-$arch"; fi
}

# --- preconditions, with what to do about them --------------------------------------------
command -v docker >/dev/null || die "the docker CLI is missing: sudo apt-get install docker.io"
if ! docker info >/dev/null 2>&1; then
  if [[ ! -S /var/run/docker.sock ]]; then
    die "dockerd is not running (no /var/run/docker.sock): start it with tools/start-dockerd.sh (or 'sudo systemctl start docker'), then retry"
  fi
  die "cannot talk to dockerd at /var/run/docker.sock ($(docker info 2>&1 | tail -1)); is your user in the docker group?"
fi
[[ -d $build_dir ]] || die "build directory '$build_dir' not found: run $make_cmd first (or pass --build-dir)"
build_dir=$(cd "$build_dir" && pwd)
needed_bins=()
for i in "${images[@]}"; do
  for b in $(binaries_of "$i"); do
    [[ -x $build_dir/bin/$b ]] ||
      die "$build_dir/bin/$b not found (needed by wisp/$i): build it first ($make_cmd, or cmake --build $build_dir --target $b)"
    [[ " ${needed_bins[*]} " == *" $b "* ]] || needed_bins+=("$b")
  done
done
# An arm64 binary in an amd64 image (or the reverse) would only fail when a container starts.
if command -v file >/dev/null; then
  for b in "${needed_bins[@]}"; do
    file -L "$build_dir/bin/$b" | grep -q "$(wisp_binary_machine "$arch")" ||
      die "$build_dir/bin/$b is not an $arch binary ($(file -L -b "$build_dir/bin/$b" | cut -d, -f1-2)); build it with $make_cmd, or pass the --arch it was built for"
  done
fi
npm_dir=${WISP_NPM_DIR:-$root/.cache/npm}
if [[ " ${images[*]} " == *" pouchdb-server "* ]]; then
  [[ -f $npm_dir/node_modules/pouchdb-server/bin/pouchdb-server ]] ||
    die "pouchdb-server is not installed in $npm_dir (needed by wisp/pouchdb-server): run tools/test-setup.sh"
  # Its npm packages were installed on this host: an addon compiled here (node-gyp's build/ or
  # lib/binding/, not the per-platform prebuilds/) cannot load on another architecture. sqlite3's
  # is one, and pouchdb-server --in-memory never loads it (leveldown has a linux-arm64 prebuild):
  # the smoke test (tests/arm64/platform_images_arm64_smoke.sh pouchdb-server) starts it.
  if [[ $foreign -eq 1 ]]; then
    addons=$(cd "$npm_dir" && find node_modules -name '*.node' -not -path '*/prebuilds/*' -not -path '*/obj.target/*' | sort | tr '\n' ' ')
    [[ -z $addons ]] ||
      echo "build-images: note: wisp/pouchdb-server for $arch carries addons compiled for $host_arch that cannot load there: $addons(pouchdb-server --in-memory does not use them)" >&2
  fi
fi
[[ $foreign -eq 0 ]] || wisp_enable_emulation "$root" "$arch" "$host_arch"
export DOCKER_BUILDKIT=0  # the classic builder: no buildx, no network

label_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
size_of() { docker image inspect -f '{{.Size}}' "$1" | numfmt --to=iec; }

work=$(mktemp -d /tmp/wisp-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Stripped binaries: the images need no debug info (the build keeps it for developers).
mkdir -p "$work/bin"
strip_tool=$(wisp_strip_tool "$arch")
for b in "${needed_bins[@]}"; do
  $strip_tool -o "$work/bin/$b" "$build_dir/bin/$b" 2>/dev/null || cp "$build_dir/bin/$b" "$work/bin/$b"
done

# The Debian packages that own the shared libraries the platform binaries load (ldd, then
# dpkg -S of the path as ldd names it or as it resolves, with and without /usr: merged /usr).
platform_packages() {
  local all=() lib
  for b in wisp-controller wisp-invoker wisp-standalone wisp-admin wsk wisp-kafka-dev-broker; do
    [[ -x $build_dir/bin/$b ]] && all+=("$build_dir/bin/$b")
  done
  [[ ${#all[@]} -gt 0 ]] || die "no platform binary in $build_dir/bin: build first (make)"
  # ldd of another architecture's binaries: its dynamic loader (from the :arch libc6 of the
  # cross build), run under qemu-user.
  local list_libs=(ldd) triplet=""
  if [[ $foreign -eq 1 ]]; then
    triplet=$(dpkg-architecture -A "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null || echo aarch64-linux-gnu)
    local loader
    for loader in /usr/lib/"$triplet"/ld-linux-aarch64.so.1 /lib/ld-linux-aarch64.so.1 ""; do
      [[ -z $loader || -x $loader ]] && break
    done
    [[ -n $loader ]] || die "no $arch dynamic loader on this host: run tools/install-deps.sh --arch $arch"
    list_libs=("$loader" --list)
  fi
  local libs
  libs=$(for b in "${all[@]}"; do
    "${list_libs[@]}" "$b" | awk '/=> not found/ {print "MISSING:" $1; next} /=> \// {print $1 " " $3}'
  done | sort -u)
  if grep -q '^MISSING:' <<<"$libs"; then
    die "the binaries need libraries this machine lacks: $(grep '^MISSING:' <<<"$libs" | cut -d: -f2 | tr '\n' ' ')(tools/install-deps.sh)"
  fi
  # One dpkg -S over every spelling of every library (a call per path costs a second each).
  local candidates=() p
  # "soname path": a library found outside the system directories (the cross build's RUNPATH
  # into /opt/wisp-cross) is taken by its soname from the :arch package in /usr/lib/<triplet>.
  local name libs_paths=""
  while read -r name lib; do
    [[ -n $lib ]] || continue
    if [[ -n $triplet && $lib == /opt/* && -e /usr/lib/$triplet/$name ]]; then lib=/usr/lib/$triplet/$name; fi
    libs_paths+="$lib"$'\n'
  done <<<"$libs"
  libs=$(sort -u <<<"$libs_paths")
  while read -r lib; do
    [[ -n $lib ]] || continue
    p=$(realpath "$lib")
    candidates+=("$lib" "${lib#/usr}" "$p" "${p#/usr}")
  done <<<"$libs"
  local owners
  owners=$(dpkg -S "${candidates[@]}" 2>/dev/null || true)  # "pkg:arch: /path" per found path
  local pkgs=() unowned=() owner c
  while read -r lib; do
    [[ -n $lib ]] || continue
    p=$(realpath "$lib")
    owner=""
    for c in "$lib" "${lib#/usr}" "$p" "${p#/usr}"; do
      owner=$(awk -v path="$c" '$NF == path { sub(/:.*/, "", $1); print $1; exit }' <<<"$owners")
      [[ -n $owner ]] && break
    done
    if [[ -z $owner ]]; then unowned+=("$lib"); continue; fi
    [[ " ${pkgs[*]} " == *" $owner "* ]] || pkgs+=("$owner")
  done <<<"$libs"
  [[ ${#unowned[@]} -eq 0 ]] ||
    die "libraries not from a Debian package cannot go into the images: ${unowned[*]} (build against Debian's packages: tools/install-deps.sh)"
  # tzdata: the alarm feeds' `timezone` (absl reads /usr/share/zoneinfo). Priority required in
  # bookworm (minbase has it), optional from trixie on: named so every suite gets it.
  printf '%s\n' "${pkgs[@]}" curl ca-certificates tzdata | sort -u | tr '\n' ' ' | sed 's/ $//'
}

packages_of_base() {  # Debian packages on top of minbase
  case $1 in
    platform) platform_packages ;;
    nodejs) echo nodejs ;;
    nginx) echo "nginx openssl" ;;
  esac
}

# The user the non-root images run as, made in the platform base so every image agrees on it.
hook_of_base() {
  case $1 in
    platform) echo 'chroot "$1" groupadd --system --gid 10001 wisp && chroot "$1" useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/wisp --create-home --shell /usr/sbin/nologin wisp' ;;
    *) echo "" ;;
  esac
}

# --- 1. Debian base images ------------------------------------------------------------------
# /usr merged by mmdebstrap's own hook rather than by the usrmerge package, which would pull in
# perl (47 MB) for nothing.
merged_usr=()
[[ -d /usr/share/mmdebstrap/hooks/merged-usr ]] &&
  merged_usr=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
build_base() {
  local kind=$1 base pkgs hook want have
  base=$(base_of "$kind")
  pkgs=$(packages_of_base "$kind")
  hook=$(hook_of_base "$kind")
  # The nodejs base is the runtime images' (tools/build-runtime-images.sh): the same formula,
  # so either script accepts what the other made.
  if [[ $kind == nodejs ]]; then
    want=$(echo "mmdebstrap minbase $suite $mirror [$pkgs] v1" | sha256sum | cut -c1-32)
  else
    want=$(echo "mmdebstrap minbase $suite $mirror [$pkgs] hook[$hook] merged-usr v2" |
      sha256sum | cut -c1-32)
  fi
  # a foreign architecture's hash names it, as in build-runtime-images.sh (the host's unchanged)
  [[ $foreign -eq 0 ]] || want=$(echo "$want $arch" | sha256sum | cut -c1-32)
  have=$(label_of "$base")
  if [[ $rebuild_base -eq 0 && $have == "$want" ]]; then
    step "$base is up to date"
    [[ $foreign -eq 0 ]] || wisp_set_image_arch "$base" "$arch" "$work"
    return
  fi
  command -v mmdebstrap >/dev/null ||
    die "mmdebstrap is needed to bootstrap $base: sudo apt-get install mmdebstrap"
  [[ $foreign -eq 0 ]] || command -v arch-test >/dev/null ||
    die "mmdebstrap needs arch-test to bootstrap the foreign $base: sudo apt-get install arch-test"
  step "bootstrapping $base: Debian $suite $arch minbase + $pkgs (mmdebstrap; $([[ $foreign -eq 0 ]] && echo 'a minute or two' || echo 'several minutes under emulation'))"
  local extra=() platform=()
  [[ $foreign -eq 0 ]] || { extra+=(--arch="$arch"); platform=(--platform "linux/$arch"); }
  [[ -n $hook ]] && extra+=(--customize-hook="$hook")
  [[ $kind == nodejs ]] || extra+=("${merged_usr[@]}")
  local started=$SECONDS
  mmdebstrap --variant=minbase --include="${pkgs// /,}" "${extra[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$work/$kind-rootfs.tar" "$mirror" 2>&1 | sed 's/^/    /' ||
    die "mmdebstrap failed for $base (is $mirror reachable? set WISP_DEBIAN_MIRROR)"
  [[ -s $work/$kind-rootfs.tar ]] || die "mmdebstrap produced no rootfs for $base"
  docker import "${platform[@]}" \
    --change "LABEL $label=$want" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    "$work/$kind-rootfs.tar" "$base" >/dev/null
  rm -f "$work/$kind-rootfs.tar"
  [[ $foreign -eq 0 ]] || wisp_set_image_arch "$base" "$arch" "$work"
  step "$base imported in $((SECONDS - started)) s ($(size_of "$base"))"
}

# --- 2. platform images ---------------------------------------------------------------------
# The build context: deploy/images/<image>/ plus what the image carries.
make_context() {
  local img=$1 ctx=$2 b
  mkdir -p "$ctx"
  cp "$root/deploy/images/$img"/* "$ctx/"
  for b in $(binaries_of "$img"); do cp "$work/bin/$b" "$ctx/"; done
  case $img in
    nginx)
      cp "$root/deploy/nginx/nginx.conf.template" "$root/deploy/nginx/render.sh" \
        "$root/deploy/nginx/make-cert.sh" "$ctx/" ;;
    pouchdb-server)
      # A reproducible tar (same files -> same bytes -> same hash) of what test-setup.sh
      # installed, without the openwhisk client the e2e tests use.
      tar -C "$npm_dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        --exclude=node_modules/openwhisk --exclude='.package-lock.json' \
        -cf "$ctx/pouchdb.tar" package.json node_modules ;;
  esac
}

# The image a rebuild replaced: its older <version>-<sha> tags go, and so does the image when
# nothing else names it, so `make test` on every commit does not pile up images. Docker refuses
# (and the tag stays) while a container uses it.
drop_old() {
  local image=$1 old_id=$2 t
  [[ -n $old_id && $old_id != "$(docker image inspect -f '{{.Id}}' "$image:$latest")" ]] || return 0
  for t in $(docker image inspect -f '{{range .RepoTags}}{{.}} {{end}}' "$old_id" 2>/dev/null); do
    [[ $t == "$image:"* ]] && docker rmi "$t" >/dev/null 2>&1 || true
  done
  # Untagged by the build itself (same tags moved to the new image): remove it by id.
  if [[ -z $(docker image inspect -f '{{range .RepoTags}}{{.}}{{end}}' "$old_id" 2>/dev/null) ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

build_image() {
  local img=$1 image base ctx want have
  image=wisp/$img
  base=$(base_of "$(base_kind_of "$img")")
  ctx=$work/ctx-$img
  make_context "$img" "$ctx"
  want=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum
    echo "$suite"; docker image inspect -f '{{.Id}}' "$base") |
    sha256sum | cut -c1-32)
  have=$(label_of "$image:$latest")
  if [[ $force -eq 0 && $have == "$want" ]]; then
    docker tag "$image:$latest" "$image:$tag"
    alias_arch "$image"
    step "$image is up to date ($image:$tag, $(size_of "$image:$latest"))"
    rm -rf "$ctx"
    return
  fi
  step "building $image:$tag from deploy/images/$img/Dockerfile"
  local started=$SECONDS old_id platform=()
  [[ $foreign -eq 0 ]] || platform=(--platform "linux/$arch")
  old_id=$(docker image inspect -f '{{.Id}}' "$image:$latest" 2>/dev/null || true)
  if ! docker build "${platform[@]}" --label "$label=$want" --build-arg "BASE=$base" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    --tag "$image:$tag" --tag "$image:$latest" "$ctx" >"$work/$img-build.log" 2>&1; then
    sed 's/^/    /' "$work/$img-build.log" >&2
    die "docker build of $image failed"
  fi
  rm -rf "$ctx"
  drop_old "$image" "$old_id"
  alias_arch "$image"
  step "$image built in $((SECONDS - started)) s: $image:$tag, $image:$latest ($(size_of "$image:$latest"))"
}
# The host's images also answer to <tag>-<arch> (latest-amd64), so both architectures can be
# named the same way (tools/push-multiarch.sh pushes the -amd64 and -arm64 images).
alias_arch() {
  [[ $foreign -eq 0 ]] || return 0
  docker tag "$1:$latest" "$1:$latest-$arch"
  docker tag "$1:$tag" "$1:$tag-$arch"
}

kinds=()
for i in "${images[@]}"; do
  k=$(base_kind_of "$i")
  [[ " ${kinds[*]} " == *" $k "* ]] || kinds+=("$k")
done
for k in "${kinds[@]}"; do build_base "$k"; done
for i in "${images[@]}"; do build_image "$i"; done
step "done: $(for i in "${images[@]}"; do printf 'wisp/%s:%s ' "$i" "$tag"; done)"
