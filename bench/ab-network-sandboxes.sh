#!/usr/bin/env bash
# bench/ab-network-sandboxes.sh — rows 4/5 (cold start with and without a stem cell, paused) and
# 6 (churn within budget, churn over a 16-container budget) of `make bench`, each with
# `--docker-network-sandboxes N` for several N, interleaved (N0, N1, … then the next round in
# reverse order), so that every N sees the same machine noise. Platform flags and wisp-bench
# calls are those of bench/run.sh (groups B, C, D, E). Prints one line per row and N (medians
# over the rounds) and writes every part as JSON under the output folder.
#
# usage: bench/ab-network-sandboxes.sh [--build-dir DIR] [--rounds R] [--n "0 2"] [--out DIR]
#   counts (env): COLD_N (20) DOCKER_N (10) PAUSED_N (20) CHURN_ACTIONS (100) CHURN_OVER (16)
#                 CHURN_DUR (10) CHURN_OVER_DUR (30)
#   ROWS (env): the groups to run, of "stem nostem fit over" (all)
# After every stop it counts the network sandboxes (label wisp.network-sandbox=<invoker>) the
# stopped wisp-standalone left behind: "holders left" must be 0.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
rounds=3
ns="0 2"
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --n) ns=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--rounds R] [--n \"0 2\"] [--out DIR]" >&2; exit 2 ;;
  esac
done
COLD_N=${COLD_N:-20} DOCKER_N=${DOCKER_N:-10} PAUSED_N=${PAUSED_N:-20}
CHURN_ACTIONS=${CHURN_ACTIONS:-100} CHURN_OVER=${CHURN_OVER:-16}
CHURN_DUR=${CHURN_DUR:-10} CHURN_OVER_DUR=${CHURN_OVER_DUR:-30}
ROWS=${ROWS:-stem nostem fit over}

standalone=$build/bin/wisp-standalone
bench=$build/bin/wisp-bench
for b in "$standalone" "$bench"; do
  [[ -x $b ]] || { echo "ab: $b is missing; build it (cmake --build $build --target wisp-bench wisp-standalone)" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "ab: dockerd does not answer; run tools/start-dockerd.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/wisp-ab.XXXXXX)
out=${out:-$work/out}
mkdir -p "$out"
SA_PID="" SA_INVOKER=""

stop_standalone() {
  [[ -n $SA_PID ]] || return 0
  kill -TERM "$SA_PID" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$SA_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SA_PID" 2>/dev/null || true
  wait "$SA_PID" 2>/dev/null || true
  # What the process left behind (it removes its containers and holders at shutdown).
  local left holders
  holders=$(docker ps -aq --filter "label=wisp.network-sandbox=$SA_INVOKER" 2>/dev/null || true)
  left=$(docker ps -aq --filter "label=wisp.invoker=$SA_INVOKER" 2>/dev/null || true)
  echo "$(echo -n "$holders" | grep -c . || true) $(echo -n "$left" | grep -c . || true)" >>"$out/left.txt"
  [[ -z "$holders$left" ]] || docker rm -f $holders $left >/dev/null 2>&1 || true
  SA_PID=""
}
cleanup() {
  stop_standalone
  local left
  left=$(docker ps -aq --filter "label=wisp.invoker=ab-$$" 2>/dev/null || true)
  [[ -z $left ]] || docker rm -f $left >/dev/null 2>&1 || true
  rm -rf "$work/sa"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_standalone NAME [flags...]: sets API, AUTH, SA_PID, SA_INVOKER.
start_standalone() {
  local name=$1; shift
  local port dir
  port=$(free_port)
  dir=$work/sa/$name
  rm -rf "$dir"; mkdir -p "$dir/data"
  "$standalone" --port "$port" --data-dir "$dir/data" \
    --invocations-per-minute 100000000 --concurrent-invocations 100000 "$@" \
    >"$dir/stdout" 2>"$dir/stderr" &
  SA_PID=$!
  SA_INVOKER="0-$port"
  for _ in $(seq 1 1200); do
    grep -q "wsk property set" "$dir/stdout" 2>/dev/null && break
    kill -0 "$SA_PID" 2>/dev/null || { echo "ab: wisp-standalone exited:" >&2; tail -20 "$dir/stderr" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "wsk property set" "$dir/stdout" || { echo "ab: wisp-standalone did not come up" >&2; exit 1; }
  API=http://127.0.0.1:$port
  AUTH=$(sed -n 's/.*--auth \([^ ]*\).*/\1/p' "$dir/stdout" | head -1)
  echo "== $name ($*) at +${SECONDS}s, load $(cut -d' ' -f1 /proc/loadavg)" >&2
}
wait_running() {
  for _ in $(seq 1 300); do
    [[ $(docker ps -q --filter "label=wisp.invoker=$SA_INVOKER" --filter "name=$1" --filter status=running | wc -l) -ge $2 ]] && return 0
    sleep 0.1
  done
  echo "ab: no running container $1 after 30 s" >&2
  return 1
}

# joined FILE: "<containers that joined a network sandbox> <all containers>" of this invoker.
joined() {
  local ids
  ids=$(docker ps -aq --filter "label=wisp.invoker=$SA_INVOKER")
  [[ -n $ids ]] || { echo "0 0" >"$1"; return 0; }
  # shellcheck disable=SC2086
  docker inspect --format '{{.HostConfig.NetworkMode}}' $ids |
    awk '/^container:/ {j++} END {print j + 0, NR}' >"$1"
}

one() {  # one ROUND N: the four groups of run.sh with --docker-network-sandboxes N
  local r=$1 n=$2 tag="r$1_n$2" sb=(--docker-network-sandboxes "$2")
  if [[ " $ROWS " == *" stem "* ]]; then
  start_standalone "stem_$tag" --user-memory 65536 --pause-grace-ms 600000 "${sb[@]}"
  wait_running prewarm_python 1
  sleep 2
  "$bench" docker-run --image wisp/action-python:3.11 -n "$DOCKER_N" --label "ab-$$" >"$out/docker_run_$tag.json"
  "$bench" cold --api "$API" --auth "$AUTH" -n "$COLD_N" --prefix stem \
    --stem-cell prewarm_python --invoker "$SA_INVOKER" --settle-ms 500 >"$out/cold_stem_$tag.json"
  stop_standalone
  fi
  if [[ " $ROWS " == *" nostem "* ]]; then
  start_standalone "nostem_$tag" --no-stem-cells --user-memory 65536 --pause-grace-ms 50 "${sb[@]}"
  sleep 2
  "$bench" cold --api "$API" --auth "$AUTH" -n "$COLD_N" --prefix nostem --settle-ms 300 \
    >"$out/cold_nostem_$tag.json"
  joined "$out/joined_nostem_$tag.txt"
  "$bench" paused --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" -n "$PAUSED_N" \
    >"$out/paused_$tag.json"
  stop_standalone
  fi
  if [[ " $ROWS " == *" fit "* ]]; then
  start_standalone "fit_$tag" --no-stem-cells --user-memory $((CHURN_ACTIONS * 128)) "${sb[@]}"
  "$bench" churn --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" --actions "$CHURN_ACTIONS" \
    --memory 128 --budget-mb $((CHURN_ACTIONS * 128)) --clients 8 --duration "$CHURN_DUR" >"$out/churn_fit_$tag.json"
  joined "$out/joined_fit_$tag.txt"
  stop_standalone
  fi
  if [[ " $ROWS " == *" over "* ]]; then
  start_standalone "over_$tag" --no-stem-cells --user-memory $((CHURN_OVER * 128)) "${sb[@]}"
  "$bench" churn --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" --actions "$CHURN_ACTIONS" \
    --memory 128 --budget-mb $((CHURN_OVER * 128)) --clients 8 --duration "$CHURN_OVER_DUR" >"$out/churn_over_$tag.json"
  stop_standalone
  fi
}

echo "ab: $rounds rounds of N in ($ns), parts in $out" >&2
read -ra order <<<"$ns"
for r in $(seq 1 "$rounds"); do
  for n in "${order[@]}"; do one "$r" "$n"; done
  # The next round in reverse order: neither N always runs first.
  for ((i = 0, j = ${#order[@]} - 1; i < j; i++, j--)); do t=${order[i]}; order[i]=${order[j]}; order[j]=$t; done
done

python3 - "$out" "$ns" <<'PY'
import glob, json, os, statistics, sys
out, ns = sys.argv[1], sys.argv[2].split()
def parts(kind, n):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, '%s_r*_n%s.json' % (kind, n))))]
def med(xs):
    xs = [x for x in xs if x is not None]
    return '%.1f' % statistics.median(xs) if xs else '-'
def runs(xs):
    return '/'.join(('%.1f' if x < 100 else '%.0f') % x for x in xs)
def joined(kind, n):
    fs = sorted(glob.glob(os.path.join(out, 'joined_%s_r*_n%s.txt' % (kind, n))))
    return '/'.join('%s of %s' % tuple(open(f).read().split()) for f in fs)
print('per N: median over rounds (each round\'s figure in brackets)')
for n in ns:
    dr = [p['latency_ms']['p50'] for p in parts('docker_run', n)]
    st = parts('cold_stem', n)
    no = parts('cold_nostem', n)
    pa = parts('paused', n)
    fit = parts('churn_fit', n)
    ov = parts('churn_over', n)
    ratio = [c['latency_ms']['p50'] / d for c, d in zip(no, dr)]
    print('N=%s' % n)
    print('  docker run + /init p50 ms      %s  [%s]' % (med(dr), runs(dr)))
    print('  cold, no stem cell p50 ms      %s  [%s]  waitTime p50 %s  ratio to docker run %s [%s]' % (
        med([p['latency_ms']['p50'] for p in no]), runs([p['latency_ms']['p50'] for p in no]),
        med([p['wait_ms']['p50'] for p in no]), '%.2f' % statistics.median(ratio) if ratio else '-',
        '/'.join('%.2f' % x for x in ratio)))
    print('    containers that joined a sandbox: %s' % joined('nostem', n))
    print('  cold, stem cell p50 ms         %s  [%s]  (from a stem cell: %s)' % (
        med([p['no_wait_latency_ms']['p50'] for p in st if p['no_wait']]),
        runs([p['no_wait_latency_ms']['p50'] for p in st if p['no_wait']]),
        '/'.join('%d of %d' % (p['no_wait'], p['latency_ms']['n']) for p in st)))
    print('  paused p50 ms                  %s  [%s]' % (
        med([p['latency_ms']['p50'] for p in pa]), runs([p['latency_ms']['p50'] for p in pa])))
    print('  churn fit /s                   %s  [%s]  created %s removed %s errors %s; first round of %s cold starts %s s [%s]' % (
        med([p['rps'] for p in fit]), runs([p['rps'] for p in fit]),
        '/'.join(str(p['containers_created']) for p in fit), '/'.join(str(p['containers_removed']) for p in fit),
        '/'.join(str(p['errors'] + p['warmup_errors']) for p in fit), fit[0]['actions'] if fit else '-',
        med([p['warmup_s'] for p in fit]), '/'.join('%.1f' % p['warmup_s'] for p in fit)))
    print('    containers that joined a sandbox: %s' % joined('fit', n))
    print('  churn over /s                  %s  [%s]  p50 %s ms created %s removed %s errors %s' % (
        med([p['rps'] for p in ov]), '/'.join('%.1f' % p['rps'] for p in ov),
        med([p['latency_ms']['p50'] for p in ov]),
        '/'.join(str(p['containers_created']) for p in ov), '/'.join(str(p['containers_removed']) for p in ov),
        '/'.join(str(p['errors'] + p['warmup_errors']) for p in ov)))
left = [l.split() for l in open(os.path.join(out, 'left.txt'))]
print('after each stop: holders left %s, containers left %s (of %d stops)' % (
    sum(int(h) for h, _ in left), sum(int(c) for _, c in left), len(left)))
PY
