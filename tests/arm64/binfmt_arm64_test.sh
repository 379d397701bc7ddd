#!/usr/bin/env bash
# tools/binfmt-arm64.sh --check against fake binfmt_misc folders (WISP_BINFMT_MISC): missing,
# disabled, registered without the F flag (containers would not find qemu) and registered with
# it; each failure must say what to run. Then (unless WISP_BINFMT_TEST_HOST=0) it reports, without
# failing, whether this host has the registration. Changes nothing; runs in well under a second.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
script=$root/tools/binfmt-arm64.sh
dir=$(mktemp -d /tmp/wisp-binfmt-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0
expect() {  # expect RC DESCRIPTION -- the fake folder is $dir/$case
  local want=$1 what=$2 got=0 out
  out=$(WISP_BINFMT_MISC=$dir/$what "$script" --check 2>&1) || got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL: $what: exit $got, want $want: $out" >&2
    failures=$((failures + 1))
  else
    echo "ok: $what -> $got: $out"
  fi
}
case $(uname -m) in aarch64|arm64) echo "host is arm64: --check is a no-op there, nothing to test"; exit 0 ;; esac

mkdir -p "$dir/missing"
mkdir -p "$dir/disabled" && printf 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n' >"$dir/disabled/qemu-aarch64"
mkdir -p "$dir/no-fix" && printf 'enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\n' >"$dir/no-fix/qemu-aarch64"
mkdir -p "$dir/registered" && printf 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n' >"$dir/registered/qemu-aarch64"
expect 1 missing
expect 1 disabled
expect 1 no-fix
expect 0 registered
# The message says what to do.
for what in missing disabled no-fix; do
  out=$(WISP_BINFMT_MISC=$dir/$what "$script" --check 2>&1 || true)
  grep -q 'tools/binfmt-arm64.sh --install' <<<"$out" ||
    { echo "FAIL: $what: the --check failure does not say what to run: $out" >&2; failures=$((failures + 1)); }
done
out=$(WISP_BINFMT_MISC=$dir/no-fix "$script" --check 2>&1 || true)
grep -q 'without the F flag' <<<"$out" ||
  { echo "FAIL: no-fix: the message does not name the missing F flag: $out" >&2; failures=$((failures + 1)); }

if [[ ${WISP_BINFMT_TEST_HOST:-1} == 1 ]]; then
  if "$script" --check >/dev/null 2>&1; then
    echo "ok: this host has qemu-aarch64 registered with F"
  else
    echo "note: this host has no qemu-aarch64 registration (run tools/binfmt-arm64.sh --install as root)"
  fi
fi
[[ $failures -eq 0 ]] || { echo "binfmt_arm64_test: $failures failure(s)" >&2; exit 1; }
echo "binfmt_arm64_test: all passed"
