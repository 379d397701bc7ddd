#!/usr/bin/env bash
# Makes arm64 (aarch64) ELF binaries runnable on this (non-arm64) host through Debian's
# qemu-user-static: mounts binfmt_misc when needed and registers qemu-aarch64 with the F
# (fix-binary) flag, so the kernel opens the interpreter once at registration and it also works
# inside containers and chroots (docker run --platform linux/arm64, mmdebstrap --arch arm64).
# Idempotent; a no-op on an arm64 host. Needs root (or CAP_SYS_ADMIN) for mount/registration.
#
# usage: tools/binfmt-arm64.sh [--install] [--check]
#   --install   apt-get install qemu-user-static binfmt-support when missing
#   --check     only report whether arm64 binaries run here (exit 1 if not); changes nothing
set -euo pipefail

install=0
check_only=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --install) install=1; shift ;;
    --check) check_only=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "binfmt-arm64: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "binfmt-arm64: $*" >&2; exit 1; }
step() { echo "==> $*"; }

case $(uname -m) in
  aarch64|arm64) step "host is arm64: nothing to register"; exit 0 ;;
esac

mnt=${WISP_BINFMT_MISC:-/proc/sys/fs/binfmt_misc}  # overridable for tests/arm64/binfmt_arm64_test.sh
entry=$mnt/qemu-aarch64

registered() { [[ -f $entry ]] && head -1 "$entry" | grep -qx enabled; }
has_fix_flag() { grep -q '^flags:.*F' "$entry" 2>/dev/null; }

if [[ $check_only -eq 1 ]]; then
  if registered && has_fix_flag; then
    step "qemu-aarch64 is registered ($(grep '^interpreter' "$entry"), $(grep '^flags' "$entry"))"
    exit 0
  fi
  if registered; then
    die "qemu-aarch64 is registered without the F flag ($(grep '^flags' "$entry")), so arm64 programs in containers cannot find it; run tools/binfmt-arm64.sh --install as root (it re-registers)"
  fi
  die "arm64 binaries cannot run here: qemu-aarch64 is not registered in $mnt; run tools/binfmt-arm64.sh --install as root"
fi

# 1. binfmt_misc mounted?
if [[ ! -f $mnt/register ]]; then
  step "mounting binfmt_misc on $mnt"
  mount -t binfmt_misc binfmt_misc "$mnt" 2>/dev/null ||
    die "cannot mount binfmt_misc on $mnt (not root, or inside a container without --privileged). Run on the host as root: mount -t binfmt_misc binfmt_misc $mnt && $0 --install"
fi

if registered && has_fix_flag; then
  step "qemu-aarch64 already registered ($(grep '^interpreter' "$entry"), $(grep '^flags' "$entry"))"
  exit 0
fi

# 2. the interpreter: Debian's qemu-user-static (static, so it runs inside any rootfs).
interp=""
for f in /usr/libexec/qemu-binfmt/aarch64-binfmt-P /usr/bin/qemu-aarch64-static; do
  [[ -x $f ]] && { interp=$f; break; }
done
if [[ -z $interp ]]; then
  if [[ $install -eq 1 ]]; then
    step "installing qemu-user-static binfmt-support (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static binfmt-support >/dev/null ||
      die "apt-get install qemu-user-static binfmt-support failed; run it yourself as root, then retry"
    for f in /usr/libexec/qemu-binfmt/aarch64-binfmt-P /usr/bin/qemu-aarch64-static; do
      [[ -x $f ]] && { interp=$f; break; }
    done
  fi
  [[ -n $interp ]] ||
    die "qemu-user-static is not installed: sudo apt-get install qemu-user-static binfmt-support (or rerun with --install)"
fi

# 3. register. Prefer binfmt-support (Debian's registration carries fix_binary yes = F flag);
#    fall back to writing the registration ourselves.
[[ -w $mnt/register ]] || die "$mnt/register is not writable: run as root (sudo $0)"
if [[ -f $entry ]] && ! has_fix_flag; then
  step "qemu-aarch64 is registered without the F flag; re-registering"
  echo -1 >"$entry" || die "cannot remove the old qemu-aarch64 registration ($entry); run as root"
fi
if command -v update-binfmts >/dev/null && [[ -f /usr/share/binfmts/qemu-aarch64 ]]; then
  step "update-binfmts --enable qemu-aarch64"
  update-binfmts --enable qemu-aarch64 2>&1 | sed 's/^/    /' || true
fi
if ! registered; then
  step "registering qemu-aarch64 -> $interp (flags OCPF)"
  magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
  mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
  echo ":qemu-aarch64:M::$magic:$mask:$interp:OCPF" >"$mnt/register" ||
    die "writing the qemu-aarch64 registration to $mnt/register failed; run as root on the host"
fi
registered || die "qemu-aarch64 is still not registered; see $entry and dmesg"
has_fix_flag || die "qemu-aarch64 is registered without the F flag ($(grep '^flags' "$entry")); containers will not find the interpreter: echo -1 > $entry and rerun"
step "qemu-aarch64 registered ($(grep '^interpreter' "$entry"), $(grep '^flags' "$entry"))"
