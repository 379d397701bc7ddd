# shellcheck shell=bash
# Shell functions shared by tools/build-runtime-images.sh and tools/build-images.sh for building
# images of another architecture (arm64 on an amd64 host, through qemu-user-static). Sourced,
# not run. The caller defines die() and step() (its own prefix) and runs with set -euo pipefail.

# The host's Debian architecture name: amd64 or arm64 (or whatever dpkg says).
wisp_host_arch() {
  local a
  a=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case $a in x86_64) a=amd64 ;; aarch64) a=arm64 ;; esac
  echo "$a"
}

# wisp_check_arch ARCH: dies unless ARCH is one the scripts build.
wisp_check_arch() {
  case $1 in amd64|arm64) ;; *) die "unknown --arch '$1' (amd64 or arm64)" ;; esac
}

# The default build tree of ARCH for the image scripts: $WISP_BUILD_DIR or ROOT/build for the
# host's architecture, $WISP_BUILD_DIR_<ARCH> or ROOT/build-ARCH for a foreign one.
wisp_default_build_dir() {  # ARCH HOST_ARCH ROOT
  if [[ $1 == "$2" ]]; then
    echo "${WISP_BUILD_DIR:-$3/build}"
  else
    local var="WISP_BUILD_DIR_${1^^}"
    echo "${!var:-$3/build-$1}"
  fi
}

# wisp_enable_emulation ROOT ARCH HOST_ARCH: makes ARCH binaries run here (binfmt_misc +
# qemu-user-static, tools/binfmt-arm64.sh), or dies saying what to do.
wisp_enable_emulation() {
  local root=$1 arch=$2 host=$3
  step "building $arch images on this $host host (emulated by qemu-user-static: slow)"
  [[ $arch == arm64 ]] || die "only arm64 can be emulated by this script (tools/binfmt-arm64.sh)"
  "$root/tools/binfmt-arm64.sh" --install 2>&1 | sed 's/^/    /' || true
  "$root/tools/binfmt-arm64.sh" --check >/dev/null 2>&1 ||
    die "arm64 binaries cannot run on this host; see the message above (tools/binfmt-arm64.sh)"
}

# wisp_binary_machine ARCH: what `file` says of an ELF binary of ARCH.
wisp_binary_machine() {
  case $1 in arm64) echo aarch64 ;; *) echo x86-64 ;; esac
}

# wisp_strip_tool ARCH: the strip that understands ARCH binaries on this host.
wisp_strip_tool() {
  if [[ $1 == arm64 && $(wisp_host_arch) != arm64 ]]; then echo aarch64-linux-gnu-strip; else echo strip; fi
}

# wisp_set_image_arch IMAGE ARCH WORKDIR: makes the image config of IMAGE say ARCH.
# Docker 20.10 without the experimental daemon ignores `docker import --platform`: the image
# says amd64 and `docker run --platform linux/arm64` refuses it. This rewrites the architecture
# in the image config (docker save, patch the config, docker load: the same layers) and removes
# the untagged copy it replaced (when nothing uses it). Nothing happens when it already says ARCH.
wisp_set_image_arch() {
  local image=$1 arch=$2 work=$3 have old dir
  have=$(docker image inspect -f '{{.Architecture}}' "$image")
  [[ $have == "$arch" ]] && return 0
  step "$image: setting the image architecture $have -> $arch"
  old=$(docker image inspect -f '{{.Id}}' "$image")
  dir=$work/arch-$RANDOM
  mkdir -p "$dir"
  docker save "$image" | tar -x -C "$dir" || die "docker save $image failed"
  python3 - "$dir" "$arch" <<'PY' || die "could not patch the architecture of $image"
import hashlib, json, os, sys
d, arch = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(d, "manifest.json")))
old = manifest[0]["Config"]
cfg = json.load(open(os.path.join(d, old)))
cfg["architecture"] = arch
cfg.pop("variant", None)
data = json.dumps(cfg, separators=(",", ":")).encode()
new = hashlib.sha256(data).hexdigest() + ".json"
open(os.path.join(d, new), "wb").write(data)
if new != old:
    os.remove(os.path.join(d, old))
manifest[0]["Config"] = new
json.dump(manifest, open(os.path.join(d, "manifest.json"), "w"))
PY
  tar -C "$dir" -c . | docker load >/dev/null || die "docker load of the $arch $image failed"
  rm -rf "$dir"
  [[ $(docker image inspect -f '{{.Architecture}}' "$image") == "$arch" ]] ||
    die "$image still does not say architecture $arch"
  # the copy labelled with the host's architecture is now untagged: remove it (only if unused)
  [[ $(docker image inspect -f '{{.Id}}' "$image") == "$old" ]] || docker rmi "$old" >/dev/null 2>&1 || true
}
