#!/usr/bin/env bash
# End-to-end test of the arm64 platform under emulation (issue 18): starts the arm64
# wisp-standalone of the cross build (an aarch64 ELF run through binfmt_misc/qemu-aarch64 on an
# amd64 host; uname says aarch64 there, so it runs the <tag>-arm64 runtime images) on a free
# 127.0.0.1 port with a temporary data dir and the host's Docker, and drives it with the arm64
# wsk (also under qemu): a python, a nodejs and a native (#!/bin/sh) action are created and
# invoked blocking, each must answer with its parameter and report that it ran on aarch64; a
# trigger fired through a rule runs the python action; `wsk activation list` shows the records.
# Checks that every action container the standalone started runs a -arm64 image. On exit
# (also on failure or Ctrl-C) it stops the standalone and removes the containers labelled with
# its invoker id (wisp.invoker=0-<port>) and its temporary folder. Prints the time of each step.
#
# usage: tests/arm64/standalone_arm64_e2e.sh [--build-dir DIR] [--wsk PATH] [--no-stem-cells]
#   --build-dir DIR   the arm64 tree with bin/wisp-standalone and bin/wsk (default build-arm64)
#   --wsk PATH        another wsk (e.g. build/bin/wsk, the amd64 one)
#   --no-stem-cells   start no containers ahead of time (default: the stem cells of runtimes.json)
# Environment: WISP_ARM64_E2E_STARTUP_S (default 300): how long the standalone may take to
# answer under emulation; WISP_ARM64_E2E_WAIT_S (default 180): how long a rule's activation may
# take to be recorded.
# Needs: a running dockerd (tools/start-dockerd.sh), qemu-aarch64 in binfmt_misc on a non-arm64
# host (tools/binfmt-arm64.sh), the arm64 runtime images (tools/build-runtime-images.sh --arch
# arm64), `make ARCH=arm64` (or the targets wisp-standalone wsk), curl, jq, python3.
# `make test-arm64-e2e` does all of that first. Exit 0 = every check passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build-arm64
wsk_bin=""
stem_cells=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --wsk) wsk_bin=$2; shift 2 ;;
    --no-stem-cells) stem_cells=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "standalone_arm64_e2e: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
standalone=$build/bin/wisp-standalone
[[ -n $wsk_bin ]] || wsk_bin=$build/bin/wsk
startup_s=${WISP_ARM64_E2E_STARTUP_S:-300}
wait_s=${WISP_ARM64_E2E_WAIT_S:-180}

indent() { local l; while IFS= read -r l; do printf '    %s\n' "$l"; done; }
die() { echo "standalone_arm64_e2e: $*" >&2; exit 1; }
started=$SECONDS
step_start=$SECONDS
current=""
step() {
  [[ -z $current ]] || echo "standalone_arm64_e2e: $current took $((SECONDS - step_start)) s"
  current=$1
  step_start=$SECONDS
  echo "==> standalone_arm64_e2e: $1"
}

# ---- preconditions, each with what to do ----
for tool in curl jq python3 docker; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install $tool (docker: docker.io)"
done
[[ -x $standalone && -x $wsk_bin ]] ||
  die "$standalone or $wsk_bin is missing: run 'make ARCH=arm64' (or 'make test-arm64-e2e')"
if command -v aarch64-linux-gnu-readelf >/dev/null; then
  machine=$(aarch64-linux-gnu-readelf -h "$standalone" | sed -n 's/^ *Machine: *//p')
  [[ $machine == AArch64 ]] ||
    die "$standalone is a '$machine' ELF file, not AArch64: is $build the arm64 tree (preset arm64)?"
fi
docker info >/dev/null 2>&1 || die "cannot talk to dockerd: start it (tools/start-dockerd.sh) and retry"
case $(uname -m) in
  aarch64|arm64) ;;
  *) "$root/tools/binfmt-arm64.sh" --check >/dev/null ||
       die "qemu-aarch64 is not registered in binfmt_misc, so the arm64 binaries cannot run here:" \
           "run tools/binfmt-arm64.sh --install as root" ;;
esac
for image in wisp/action-python:3.11-arm64 wisp/action-nodejs:18-arm64 wisp/action-native:latest-arm64; do
  docker image inspect "$image" >/dev/null 2>&1 ||
    die "the runtime image $image is missing: run tools/build-runtime-images.sh --arch arm64"
done

# ---- start the standalone ----
tmp=$(mktemp -d /tmp/wisp-arm64-e2e.XXXXXX)
port=""
pid=""
failures=0
cleanup() {
  local status=$?
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # It removes its containers on SIGTERM; under emulation that can take a while.
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n $port ]]; then
    local ids
    ids=$(docker ps -aq --filter "label=wisp.invoker=0-$port" 2>/dev/null || true)
    if [[ -n $ids ]]; then
      echo "standalone_arm64_e2e: removing containers left with label wisp.invoker=0-$port"
      # shellcheck disable=SC2086
      docker rm -f $ids >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log=$tmp/standalone.log
show_log() { echo "---- wisp-standalone log (last 60 lines) ----" >&2; tail -60 "$log" >&2 || true; }
fail() {
  echo "standalone_arm64_e2e: FAIL: $*" >&2
  failures=$((failures + 1))
}

step "start $standalone under qemu-user"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
args=(--port "$port" --data-dir "$tmp/data" --shutdown-grace 20)
[[ $stem_cells -eq 1 ]] || args+=(--no-stem-cells)
echo "standalone_arm64_e2e: $standalone ${args[*]}"
"$standalone" "${args[@]}" >"$log" 2>&1 &
pid=$!

# Ready when it printed its `wsk property set` line (the guest key) and GET / answers 200.
deadline=$((SECONDS + startup_s))
apihost="" auth=""
while :; do
  if [[ -z $auth ]]; then
    line=$(grep -m1 -o 'wsk property set --apihost [^ ]* --auth [^ ]*' "$log" 2>/dev/null || true)
    if [[ -n $line ]]; then
      apihost=$(awk '{print $5}' <<<"$line")
      auth=$(awk '{print $7}' <<<"$line")
    fi
  fi
  if [[ -n $auth ]]; then
    code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null || true)
    [[ $code == 200 ]] && break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    show_log
    die "wisp-standalone exited before it answered on 127.0.0.1:$port (its log is above)"
  fi
  if [[ $SECONDS -ge $deadline ]]; then
    show_log
    die "wisp-standalone did not answer GET / on 127.0.0.1:$port within ${startup_s} s" \
        "(WISP_ARM64_E2E_STARTUP_S sets the limit; its log is above)"
  fi
  sleep 0.5
done
echo "standalone_arm64_e2e: up on $apihost after $((SECONDS - step_start)) s"

export WSK_CONFIG_FILE=$tmp/wskprops WHISK_APIHOST=$apihost WHISK_AUTH=$auth
: >"$WSK_CONFIG_FILE"
wsk() {  # the wsk under test; its output on stdout, its errors on stderr
  "$wsk_bin" "$@"
}

# ---- actions: create, invoke blocking, check the result and the machine ----
mkdir -p "$tmp/src"
cat >"$tmp/src/hello.py" <<'EOF'
import platform
def main(args):
    return {"greeting": "hello " + args.get("name", "?"), "machine": platform.machine()}
EOF
cat >"$tmp/src/hello.js" <<'EOF'
function main(args) {
  return {greeting: "hello " + (args.name || "?"), machine: process.arch};
}
EOF
cat >"$tmp/src/hello.sh" <<'EOF'
#!/bin/sh
echo "a log line from $(uname -m)"
name=$(echo "$1" | sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')
echo "{\"greeting\": \"hello $name\", \"machine\": \"$(uname -m)\"}"
EOF

# name, source file, extra create flags, the machine it must report
actions=("arm-py hello.py - aarch64" "arm-js hello.js - arm64" "arm-sh hello.sh --native aarch64")
for spec in "${actions[@]}"; do
  read -r name file flags want <<<"$spec"
  step "$name: wsk action create + invoke --blocking --result"
  create=(action create "$name" "$tmp/src/$file")
  [[ $flags == - ]] || create+=("$flags")
  if ! out=$(wsk "${create[@]}" 2>&1); then
    fail "$name: wsk ${create[*]} failed: $out"
    continue
  fi
  [[ $out == "ok: created action $name" ]] || fail "$name: create printed '$out'"
  t0=$SECONDS
  if ! out=$(wsk action invoke "$name" -p name Ada --blocking --result 2>&1); then
    fail "$name: wsk action invoke failed ($((SECONDS - t0)) s): $out"
    continue
  fi
  greeting=$(jq -r .greeting <<<"$out" 2>/dev/null || true)
  machine=$(jq -r .machine <<<"$out" 2>/dev/null || true)
  [[ $greeting == "hello Ada" ]] || fail "$name: result $out: greeting '$greeting', want 'hello Ada'"
  [[ $machine == "$want" ]] || fail "$name: the action ran on '$machine', want $want (arm64)"
  echo "standalone_arm64_e2e: $name answered $(jq -c . <<<"$out") in $((SECONDS - t0)) s (cold)"
  # A second, warm invoke on the same container.
  t0=$SECONDS
  out=$(wsk action invoke "$name" -p name Bo --blocking --result 2>&1) || true
  [[ $(jq -r .greeting <<<"$out" 2>/dev/null) == "hello Bo" ]] ||
    fail "$name: the warm invoke answered '$out'"
  echo "standalone_arm64_e2e: $name warm in $((SECONDS - t0)) s"
done

# ---- a trigger fired through a rule ----
step "trigger + rule: wsk trigger fire runs arm-py"
wsk trigger create arm-tr -p name Rule >/dev/null || fail "wsk trigger create arm-tr failed"
wsk rule create arm-rule arm-tr arm-py >/dev/null || fail "wsk rule create arm-rule failed"
out=$(wsk trigger fire arm-tr 2>&1) || fail "wsk trigger fire arm-tr failed: $out"
trigger_id=$(sed -n 's/^ok: triggered \/_\/arm-tr with id \([0-9a-f]\{32\}\)$/\1/p' <<<"$out")
[[ -n $trigger_id ]] || fail "wsk trigger fire printed '$out' (want 'ok: triggered /_/arm-tr with id <id>')"
# The rule's action runs asynchronously: wait (with a deadline) for a record whose result is
# the rule's greeting.
rule_result=""
deadline=$((SECONDS + wait_s))
while [[ $SECONDS -lt $deadline ]]; do
  for id in $(wsk activation list arm-py 2>/dev/null | awk 'NR > 1 {print $3}'); do
    r=$(wsk activation result "$id" 2>/dev/null || true)
    if [[ $(jq -r .greeting <<<"$r" 2>/dev/null) == "hello Rule" ]]; then rule_result=$r; break 2; fi
  done
  sleep 1
done
if [[ -z $rule_result ]]; then
  fail "no activation of arm-py with 'hello Rule' within ${wait_s} s after the fire; trigger record:" \
       "$(wsk activation get "${trigger_id:-none}" 2>&1 | head -40)"
else
  [[ $(jq -r .machine <<<"$rule_result") == aarch64 ]] ||
    fail "the rule's activation ran on '$(jq -r .machine <<<"$rule_result")', want aarch64"
  echo "standalone_arm64_e2e: the rule ran arm-py: $(jq -c . <<<"$rule_result")"
fi

# ---- the activation records ----
step "wsk activation list"
list=$(wsk activation list --limit 50 2>&1) || fail "wsk activation list failed: $list"
indent <<<"$list"
grep -Eq '^Datetime +Activation ID +Kind +Start Duration +Status +Entity$' <<<"$list" ||
  fail "wsk activation list has no header line"
for row in "python:3.11 .* success +guest/arm-py:0.0.1" "nodejs:18 .* success +guest/arm-js:0.0.1" \
           "blackbox .* success +guest/arm-sh:0.0.1" "unknown .* success +guest/arm-tr:0.0.1"; do
  n=$(grep -Ec "[0-9a-f]{32} +$row\$" <<<"$list" || true)
  [[ $n -ge 1 ]] || fail "wsk activation list shows no record matching '$row'"
done
[[ $(grep -Ec 'guest/arm-py:0.0.1$' <<<"$list" || true) -ge 3 ]] ||
  fail "wsk activation list should show 3 records of arm-py (2 invokes + the rule)"
out=$(wsk activation logs "$(awk '/guest\/arm-sh:/ {print $3; exit}' <<<"$list")" 2>&1 || true)
grep -q "stdout: a log line from aarch64" <<<"$out" ||
  fail "wsk activation logs of arm-sh: want 'stdout: a log line from aarch64', got: $out"

# ---- the containers the standalone started run the -arm64 images ----
step "docker: the standalone's containers run -arm64 images"
images=$(docker ps -a --filter "label=wisp.invoker=0-$port" --format '{{.Image}}' | sort | uniq -c)
indent <<<"$images"
[[ -n $images ]] || fail "no container labelled wisp.invoker=0-$port: did the actions run in Docker?"
while read -r _ image; do
  [[ -z $image || $image == *-arm64 ]] || fail "a container runs $image, not a -arm64 image"
  arch=$(docker image inspect -f '{{.Architecture}}' "$image" 2>/dev/null || echo "?")
  [[ -z $image || $arch == arm64 ]] || fail "$image has architecture '$arch', not arm64"
done <<<"$images"

step "stop the standalone (SIGTERM)"
kill -TERM "$pid"
deadline=$((SECONDS + 120))
while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $deadline ]]; do sleep 0.5; done
if kill -0 "$pid" 2>/dev/null; then
  fail "wisp-standalone did not stop within 120 s of SIGTERM"
else
  wait "$pid" && rc=0 || rc=$?
  [[ $rc -eq 0 ]] || fail "wisp-standalone exited with $rc after SIGTERM"
  left=$(docker ps -aq --filter "label=wisp.invoker=0-$port" | wc -l)
  [[ $left -eq 0 ]] || fail "wisp-standalone left $left container(s) after its shutdown"
fi
pid=""

step "done"
if [[ $failures -gt 0 ]]; then
  show_log
  echo "standalone_arm64_e2e: $failures check(s) failed ($((SECONDS - started)) s)" >&2
  exit 1
fi
echo "standalone_arm64_e2e: every check passed: the arm64 wisp-standalone (under qemu-user) driven by" \
     "$wsk_bin ran python, nodejs and native actions on -arm64 images ($((SECONDS - started)) s)"
