#!/usr/bin/env bash
# Smoke test of the arm64 runtime images under emulation (issue 18): for python, nodejs and native
# it starts `docker run --platform linux/arm64` of wisp/action-<rt>:<tag>-arm64, published on
# 127.0.0.1 only, and checks that the arm64 action proxy answers POST /init (a small action that
# reports the machine it runs on) and POST /run (parameters in, result out), and that the action
# really ran as aarch64. The native image runs two actions: a #! script and a script without #!
# (native-noshebang: the arm64 proxy runs it with /bin/sh, decided from its first bytes, since
# under qemu-user the spawn cannot report ENOEXEC). Removes only the containers it started.
#
# usage: tests/arm64/runtime_images_arm64_smoke.sh [RUNTIME...]   (default: python nodejs native)
# Needs: a running dockerd, the images from `tools/build-runtime-images.sh --arch arm64`, and on a
# non-arm64 host qemu-aarch64 registered (tools/binfmt-arm64.sh). Exit 0 = all passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runtimes=("$@")
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(python nodejs native)
# native also covers an exec without #! (in a container of its own: a second /init is refused)
cases=()
for rt in "${runtimes[@]}"; do
  cases+=("$rt")
  [[ $rt != native ]] || cases+=(native-noshebang)
done
startup_s=${WISP_SMOKE_STARTUP_S:-90}

step() { echo "==> $*"; }
fail() { echo "runtime_images_arm64_smoke: FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "runtime_images_arm64_smoke: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "cannot talk to dockerd: start it (tools/start-dockerd.sh) and retry"
case $(uname -m) in
  aarch64|arm64) ;;
  *) "$root/tools/binfmt-arm64.sh" --check >/dev/null ||
       die "qemu-aarch64 is not registered, so arm64 images cannot run here: run tools/binfmt-arm64.sh --install as root" ;;
esac

image_of() {
  case $1 in
    python) echo wisp/action-python:3.11-arm64 ;;
    nodejs) echo wisp/action-nodejs:18-arm64 ;;
    native|native-noshebang) echo wisp/action-native:latest-arm64 ;;
    *) die "unknown runtime '$1' (python nodejs native)" ;;
  esac
}
code_of() {  # an action that greets and says which machine it runs on
  case $1 in
    python) printf '%s\n' 'import platform' 'def main(args):' \
      '    return {"greeting": "hello " + args.get("name", "?"), "machine": platform.machine()}' ;;
    nodejs) printf '%s\n' 'function main(args) {' \
      '  return {greeting: "hello " + (args.name || "?"), machine: require("os").arch()};' '}' ;;
    native) printf '%s\n' '#!/bin/bash' 'echo "a log line"' \
      'name=$(echo "$1" | sed -n '"'"'s/.*"name": *"\([^"]*\)".*/\1/p'"'"')' \
      'echo "{\"greeting\": \"hello $name\", \"machine\": \"$(uname -m)\"}"' ;;
    native-noshebang) code_of native | sed 1d ;;  # the same script for /bin/sh, no #! line
  esac
}
machine_of() {  # what the action reports on arm64
  case $1 in nodejs) echo arm64 ;; *) echo aarch64 ;; esac
}

containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

post() {  # post PORT PATH BODY -> "<status> <body>"
  curl -sS -m 60 -o /tmp/wisp-arm64-smoke-body.$$ -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$3" "http://127.0.0.1:$1$2" 2>/dev/null || echo -n 000
  echo -n " $(cat /tmp/wisp-arm64-smoke-body.$$ 2>/dev/null)"
  rm -f /tmp/wisp-arm64-smoke-body.$$
}

failures=0
started=$SECONDS
for rt in "${cases[@]}"; do
  image=$(image_of "$rt")
  t0=$SECONDS
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    fail "$rt: image $image is missing: build it with tools/build-runtime-images.sh --arch arm64 ${rt%-noshebang}"
    continue
  fi
  img_arch=$(docker image inspect -f '{{.Architecture}}' "$image")
  [[ $img_arch == arm64 ]] || { fail "$rt: $image has architecture '$img_arch', not arm64"; continue; }
  name=wisp-arm64-smoke-$rt-$$
  step "$rt: docker run --platform linux/arm64 $image"
  docker run -d --rm --platform linux/arm64 --name "$name" --label wisp.test=arm64-smoke \
    -p 127.0.0.1::8080 "$image" >/dev/null || { fail "$rt: docker run failed"; continue; }
  containers+=("$name")
  port=$(docker port "$name" 8080/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -1)
  [[ -n $port ]] || { fail "$rt: no 127.0.0.1 port published"; continue; }

  # The proxy is up when it answers HTTP at all (a GET /init is refused with 4xx).
  up=0
  for _ in $(seq 1 "$((startup_s * 2))"); do
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/init" 2>/dev/null || true)
    [[ $code != 000 && -n $code ]] && { up=1; break; }
    sleep 0.5
  done
  [[ $up -eq 1 ]] || { fail "$rt: the proxy did not answer within ${startup_s}s; logs: $(docker logs "$name" 2>&1 | tail -5)"; continue; }

  init=$(jq -cn --arg code "$(code_of "$rt")" '{value: {name: "smoke", main: "main", binary: false, code: $code, env: {}}}')
  answer=$(post "$port" /init "$init")
  [[ $answer == '200 {"ok":true}' ]] || { fail "$rt: /init answered '$answer' (want 200 {\"ok\":true}); logs: $(docker logs "$name" 2>&1 | tail -5)"; continue; }

  run='{"value":{"name":"Ada"},"namespace":"guest","action_name":"/guest/smoke","action_version":"0.0.1","activation_id":"a1","transaction_id":"tid","deadline":"4102444800000"}'
  answer=$(post "$port" /run "$run")
  status=${answer%% *}
  body=${answer#* }
  if [[ $status != 200 ]]; then
    fail "$rt: /run answered '$answer' (want 200); logs: $(docker logs "$name" 2>&1 | tail -5)"
    continue
  fi
  greeting=$(jq -r .greeting <<<"$body" 2>/dev/null || true)
  machine=$(jq -r .machine <<<"$body" 2>/dev/null || true)
  [[ $greeting == "hello Ada" ]] || { fail "$rt: /run result $body: greeting '$greeting', want 'hello Ada'"; continue; }
  [[ $machine == "$(machine_of "$rt")" ]] || { fail "$rt: the action ran on '$machine', want $(machine_of "$rt") (arm64)"; continue; }
  step "$rt: ok: /init 200, /run 200 $body ($((SECONDS - t0)) s)"
  docker rm -f "$name" >/dev/null 2>&1 || true
done

if [[ $failures -gt 0 ]]; then
  echo "runtime_images_arm64_smoke: $failures of ${#cases[@]} case(s) failed ($((SECONDS - started)) s)" >&2
  exit 1
fi
step "all ${#cases[@]} arm64 runtime image case(s) (${cases[*]}) answered /init and /run ($((SECONDS - started)) s)"
