#!/usr/bin/env bash
# Builds the web console (console/) into <outdir>: the files the controller serves at /console/.
#
#   tools/build-console.sh <outdir>
#
# 1. `npm ci` in console/, only when package-lock.json changed since the last install (its
#    sha256 is kept in console/node_modules/.wisp-lock.sha256);
# 2. `npx tsc --noEmit` (type check: the Vite build itself does not check types);
# 3. `npx vite build` with WISP_CONSOLE_OUT=<outdir> (vite.config.ts).
# CMake runs it (console/CMakeLists.txt) when a file of console/ changed; it can be run by hand.
set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: tools/build-console.sh <outdir>" >&2
  exit 2
fi
out=$1
[[ $out == /* ]] || out="$PWD/$out"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
console="$root/console"
cd "$console"

say() { echo "build-console: $*"; }
fail() { echo "build-console: $*" >&2; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null ||
  fail "node and npm are needed (Node.js >= 20.19); run tools/install-deps.sh, or configure with -DWISP_CONSOLE=OFF"

stamp=node_modules/.wisp-lock.sha256
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$lock_hash" ]]; then
  say "installing the console's npm packages (npm ci: package-lock.json changed)"
  if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/wisp-console-npm.log 2>&1; then
    tail -30 /tmp/wisp-console-npm.log >&2
    fail "npm ci in $console failed (log: /tmp/wisp-console-npm.log). Is the npm registry reachable (npm config get registry)? Retry with: cd console && npm ci"
  fi
  echo "$lock_hash" >"$stamp"
fi

say "type-checking (tsc --noEmit)"
npx --no-install tsc --noEmit ||
  fail "TypeScript errors above (file:line); fix them, then run make again (check alone: cd console && npx tsc --noEmit)"

say "bundling into $out (vite build)"
if ! WISP_CONSOLE_OUT="$out" npx --no-install vite build --logLevel warn; then
  fail "vite build failed (errors above); reproduce with: cd console && WISP_CONSOLE_OUT=/tmp/console npx vite build"
fi
[[ -f $out/index.html ]] || fail "vite build wrote no $out/index.html; check console/vite.config.ts (build.outDir)"
say "done: $(find "$out" -type f | wc -l) files, $(du -sk "$out" | cut -f1) KB"
