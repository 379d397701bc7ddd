#!/usr/bin/env bash
# bench/run.sh — the end-to-end benchmark behind `make bench` (see bench/README.md).
#
# Starts fresh wisp-standalone processes on free loopback ports (temp --data-dir, throttles
# raised), drives them with wisp-bench, stops them, then bench/report.py prints the table
# (targets with PASS/MISS), writes the JSON and draws the PNG. Figures are printed and stored,
# never asserted.
#
# usage: bench/run.sh [--build-dir DIR] [--quick|--full] [--soak-minutes N] [--out FILE.json]
#                     [--no-png]
#   --quick   a smoke run (a few samples per row, 5 s soaks, ≈ 90 s); JSON in a temp folder
#   --full    >= 1000 samples in every row, cold starts and churn included (≈ 55 min)
#   default   >= 1000 samples for the warm rows, fewer for cold starts, two 10-minute soaks
#             (≈ 33 min on 2 cores; ≈ 12 min with --soak-minutes 0)
#   --soak-minutes N   length of each of the two soaks (0 skips them; fractions allowed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
mode=default
out=""
png=1
soak_minutes=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    --out) out=$2; shift 2 ;;
    --no-png) png=0; shift ;;
    --soak-minutes) soak_minutes=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--quick|--full] [--soak-minutes N] [--out FILE.json] [--no-png]" >&2; exit 2 ;;
  esac
done

standalone=$build/bin/wisp-standalone
bench=$build/bin/wisp-bench
for b in "$standalone" "$bench"; do
  [[ -x $b ]] || { echo "run.sh: $b is missing; build it (ninja -C $build wisp-bench wisp-standalone)" >&2; exit 1; }
done
command -v docker >/dev/null || { echo "run.sh: docker CLI missing (tools/install-deps.sh)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "run.sh: dockerd does not answer; run tools/start-dockerd.sh" >&2; exit 1; }
docker image inspect wisp/action-python:3.11 >/dev/null 2>&1 ||
  { echo "run.sh: image wisp/action-python:3.11 missing; run tools/build-runtime-images.sh" >&2; exit 1; }

# ---- sample counts per mode ----
case $mode in
  quick)
    LAT_N=200 LAT_WARM=50 CL_WARM=0.5 CL_DUR=1 CLIENTS="1 8 32 128" OPEN_DUR=1 DIST_CLIENTS="8" DIST_WARM=4
    COLD_N=2 DOCKER_N=2 PAUSED_N=3 CHURN_ACTIONS=10 CHURN_OVER=4 CHURN_DUR=2 CHURN_OVER_DUR=3
    DIST1_CLIENTS="8" INSTR_N=30 INSTR_WARM=10 SOAK_S=5 SOAK_WARM=1 ;;
  full)
    LAT_N=5000 LAT_WARM=500 CL_WARM=3 CL_DUR=10 CLIENTS="1 8 32 128" OPEN_DUR=10 DIST_CLIENTS="1 8 32 128" DIST_WARM=5
    COLD_N=1000 DOCKER_N=1000 PAUSED_N=1000 CHURN_ACTIONS=100 CHURN_OVER=16 CHURN_DUR=20 CHURN_OVER_DUR=300
    DIST1_CLIENTS="1 8 32 128" INSTR_N=2000 INSTR_WARM=200 SOAK_S=600 SOAK_WARM=5 ;;
  *)
    LAT_N=2000 LAT_WARM=300 CL_WARM=5 CL_DUR=8 CLIENTS="1 8 32 128" OPEN_DUR=6 DIST_CLIENTS="8 32" DIST_WARM=5
    COLD_N=50 DOCKER_N=50 PAUSED_N=60 CHURN_ACTIONS=100 CHURN_OVER=16 CHURN_DUR=10 CHURN_OVER_DUR=30
    DIST1_CLIENTS="8 32" INSTR_N=1000 INSTR_WARM=100 SOAK_S=600 SOAK_WARM=5 ;;
esac
[[ -z $soak_minutes ]] || SOAK_S=$(python3 -c "print(max(0, round(float('$soak_minutes') * 60)))")

work=$(mktemp -d /tmp/wisp-bench.XXXXXX)
parts=$work/parts
mkdir -p "$parts"
SA_PID="" SA_DIR="" SA_INVOKER=""
SA_WRAP=()  # a command the next start_standalone runs wisp-standalone under (valgrind)

stop_standalone() {
  [[ -n $SA_PID ]] || return 0
  kill -TERM "$SA_PID" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$SA_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SA_PID" 2>/dev/null || true
  wait "$SA_PID" 2>/dev/null || true
  # Belt and braces: the standalone removes its containers and network sandboxes at shutdown.
  local left
  left=$(docker ps -aq --filter "label=wisp.invoker=$SA_INVOKER" 2>/dev/null || true)
  left+=" $(docker ps -aq --filter "label=wisp.network-sandbox=$SA_INVOKER" 2>/dev/null || true)"
  [[ -z ${left// /} ]] || docker rm -f $left >/dev/null 2>&1 || true
  SA_PID=""
}

CLUSTER_DIR=""
stop_cluster() {
  [[ -n $CLUSTER_DIR ]] || return 0
  "$root/tools/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2 || true
  CLUSTER_DIR=""
}

# start_cluster NAME CONTROLLERS INVOKERS: tools/local-cluster.sh up on loopback (dev broker,
# nginx with TLS in front); sets API (https, through nginx), AUTH, CTRL_PID. The dev broker's
# long-poll proxy answers a waiting fetch as soon as a record arrives, so the fetch wait
# (local-cluster.sh's default, 100 ms) costs no latency; a 1 ms wait only made every idle
# consumer ask the broker 1,000 times a second.
start_cluster() {
  local name=$1 nc=$2 ni=$3 store=sqlite
  [[ -x ${WISP_POUCHDB_SERVER:-$root/.cache/npm/node_modules/.bin/pouchdb-server} ]] && store=couchdb
  CLUSTER_DIR=$work/$name
  local out
  out=$("$root/tools/local-cluster.sh" up --dir "$CLUSTER_DIR" --build-dir "$build" --store "$store" \
    --controllers "$nc" --invokers "$ni" \
    --controller-args "--invocations-per-minute 100000000 --concurrent-invocations 100000" \
    --invoker-args "--no-stem-cells --user-memory 4096" 2>&1) ||
    { echo "$out" | tail -20 >&2; echo "run.sh: tools/local-cluster.sh up failed" >&2; exit 1; }
  API=$(echo "$out" | sed -n 's/^APIHOST=//p' | tail -1)
  AUTH=$(echo "$out" | sed -n 's/^AUTH=//p' | tail -1)
  CTRL_PID=$(cat "$CLUSTER_DIR/pids/controller0.pid")
  DIST_STORE=$store
  echo "== $name: $nc controller(s), $ni invoker(s), store $store, through nginx on $API at +${SECONDS}s" >&2
}

# wait_past_recorded_check PID...: for its first 30 s an invoker looks every activation up in the
# store before running it (a redelivery after a restart may have a record already:
# InvokerConfig::recorded_check_skew); with CouchDB that is one more HTTP round trip per
# activation. Waits until every invoker PID has run 31 s, so the loops measure the steady state.
wait_past_recorded_check() {
  local pid
  for pid in "$@"; do
    while (($(ps -o etimes= -p "$pid") < 31)); do sleep 1; done
  done
}

# warm_cluster_pool URL CLIENTS: before a measured closed loop of the cluster, 3 s loops of
# CLIENTS until one starts no container of the cluster's invokers (at most 8): the loop's own
# warm-up (DIST_WARM, 5 s) did not cover the cold starts of 32 containers on 2 cores, so they
# fell into the measured window (27 of 32 starts with 1 + 2 in a run at load 20).
cluster_containers() {
  local prefix
  prefix=$(sed -n 's/^PREFIX=//p' "$CLUSTER_DIR/state" | tr -d "'\"")
  docker ps -a --filter label=wisp.invoker --format '{{.Label "wisp.invoker"}}' 2>/dev/null |
    awk -v p="$prefix" 'index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9]+$/' | wc -l
}
warm_cluster_pool() {
  local url=$1 c=$2 before after i
  for ((i = 0; i < 8; ++i)); do
    before=$(cluster_containers)
    "$bench" closed --url "$url" --auth "$AUTH" --clients "$c" --warmup 0 --duration 3 >/dev/null 2>&1
    after=$(cluster_containers)
    ((after > before)) || return 0
  done
  echo "run.sh: the cluster's invokers still started containers after 8 warm-up loops of $c clients" >&2
}

cleanup() {
  stop_standalone
  stop_cluster
  local left
  left=$(docker ps -aq --filter "label=wisp.invoker=bench-$$" 2>/dev/null || true)
  [[ -z $left ]] || docker rm -f $left >/dev/null 2>&1 || true
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_standalone NAME [flags...]: sets API, AUTH, SA_PID, SA_INVOKER.
start_standalone() {
  local name=$1; shift
  local port
  port=$(free_port)
  SA_DIR=$work/$name
  mkdir -p "$SA_DIR/data"
  "${SA_WRAP[@]}" "$standalone" --port "$port" --data-dir "$SA_DIR/data" \
    --invocations-per-minute 100000000 --concurrent-invocations 100000 "$@" \
    >"$SA_DIR/stdout" 2>"$SA_DIR/stderr" &
  SA_PID=$!
  SA_INVOKER="0-$port"
  for _ in $(seq 1 1200); do
    grep -q "wsk property set" "$SA_DIR/stdout" 2>/dev/null && break
    kill -0 "$SA_PID" 2>/dev/null || { echo "run.sh: wisp-standalone exited:" >&2; tail -20 "$SA_DIR/stderr" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "wsk property set" "$SA_DIR/stdout" || { echo "run.sh: wisp-standalone did not come up" >&2; exit 1; }
  API=http://127.0.0.1:$port
  AUTH=$(sed -n 's/.*--auth \([^ ]*\).*/\1/p' "$SA_DIR/stdout" | head -1)
  echo "== $name: wisp-standalone pid $SA_PID on $API ($*) at +${SECONDS}s" >&2
}

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
hwm_mb() { awk '/^VmHWM:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# wait_containers NAME_FILTER COUNT: until COUNT running containers of this invoker match.
wait_running() {
  for _ in $(seq 1 300); do
    [[ $(docker ps -q --filter "label=wisp.invoker=$SA_INVOKER" --filter "name=$1" --filter status=running | wc -l) -ge $2 ]] && return 0
    sleep 0.1
  done
  echo "run.sh: no running container $1 after 30 s" >&2
  return 1
}

invoke() {  # invoke ACTION: one blocking invoke through curl, fails on non-200
  curl -skf -u "$AUTH" -X POST -H 'Content-Type: application/json' -d '{}' \
    "$API/api/v1/namespaces/_/actions/$1?blocking=true&result=true" >/dev/null
}
put_noop() {  # put_noop ACTION [MEMORY_MB]
  local limits=""
  [[ -n ${2:-} ]] && limits=",\"limits\":{\"memory\":$2}"
  curl -skf -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
    -d "{\"exec\":{\"kind\":\"python:3\",\"code\":\"def main(args):\\n    return {}\\n\"}$limits}" \
    "$API/api/v1/namespaces/_/actions/$1?overwrite=true" >/dev/null
}

t_start=$(date +%s)
read -r load1 load5 load15 _ </proc/loadavg
python3 - "$work/meta.json" "$mode" "$load1 $load5 $load15" "$root" <<'EOF'
import json, os, platform, subprocess, sys, datetime
out, mode, load, root = sys.argv[1:5]
mem_kb = int(next(l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal:')))
model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine())
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=root).stdout.strip()
    except Exception:
        return ''
json.dump({
    'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
    'host': platform.node(), 'mode': mode,
    'machine': {'cores': os.cpu_count(), 'cpu': model, 'memory_gib': round(mem_kb / 1048576, 1),
                'kernel': platform.release(), 'docker': sh("docker version -f '{{.Server.Version}}'")},
    'commit': sh('git rev-parse --short HEAD') + (' (dirty)' if sh('git status --porcelain --untracked-files=no') else ''),
    'load_avg_start': [float(x) for x in load.split()],
}, open(out, 'w'), indent=1)
EOF
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average $load1 $load5 $load15; mode $mode" >&2

RUN_BODY=$("$bench" run-body)

# ---- S: placement simulation (bench/sim/, README "Simulation"): 10/100/1000 simulated invokers,
# the real sharding placement and baselines; no Docker, seconds ----
sim=$build/bin/wisp-sim
[[ -x $sim ]] || { echo "run.sh: $sim is missing; build it (make)" >&2; exit 1; }
case $mode in
  quick) "$sim" --quick --json >"$parts/simulation.json" ;;
  full) "$sim" --duration 3600 --json >"$parts/simulation.json" ;;
  *) "$sim" --json >"$parts/simulation.json" ;;
esac

# ---- idle: the default flags, no containers ----
start_standalone idle --no-stem-cells
sleep 2
echo "{\"idle_no_containers_mb\": $(rss_mb "$SA_PID"), \"idle_threads\": $(threads "$SA_PID")}" >"$parts/rss_idle.json"
stop_standalone

# ---- A: warm latency, floor, throughput, resident memory under load ----
# No stem cells here: the no-op's container is then named after it (a stem cell taken by an
# action keeps its prewarm name), which is how the floor finds it.
start_standalone main --no-stem-cells --user-memory 4096
put_noop noop
invoke noop
wait_running _guest_noop 1
cid=$(docker ps -q --filter "label=wisp.invoker=$SA_INVOKER" --filter name=_guest_noop | head -1)
sock=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/run/wisp"}}{{.Source}}{{end}}{{end}}' "$cid")/proxy.sock
# Action containers listen on their unix socket only (no TCP listener, nothing published); the
# port floor is measured only for an invoker configured to publish one.
hport=$(docker port "$cid" 8080/tcp 2>/dev/null | head -1 | sed 's/.*://' || true)
floor_port=()
if [[ -n $hport ]]; then
  floor_port=(--url "http://127.0.0.1:$hport/run" --name floor_port --body "$RUN_BODY")
fi
echo "warm container $cid: socket $sock, port ${hport:-none}" >&2
"$bench" latency -n "$LAT_N" --warmup "$LAT_WARM" --block 100 \
  --url "$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true" --name rest --auth "$AUTH" \
  --url "unix:$sock:/run" --name floor_unix --body "$RUN_BODY" \
  "${floor_port[@]}" >"$parts/latency.json"

url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
for c in $CLIENTS; do
  "$bench" closed --url "$url" --auth "$AUTH" --clients "$c" --warmup "$CL_WARM" \
    --duration "$CL_DUR" --watch-pid "$SA_PID" >"$parts/closed_$c.json"
done
max_rps=$(python3 -c 'import json,sys; print(max(json.load(open(f))["rps"] for f in sys.argv[1:]))' "$parts"/closed_*.json)
for pct in 50 80 100; do
  rate=$(python3 -c "print(max(1.0, $max_rps * $pct / 100))")
  "$bench" open --url "$url" --auth "$AUTH" --rate "$rate" --connections 128 --warmup 1 \
    --duration "$OPEN_DUR" >"$parts/open_$pct.json"
done
sleep 1
echo "{\"after_load_mb\": $(rss_mb "$SA_PID"), \"peak_hwm_mb\": $(hwm_mb "$SA_PID"), \"containers\": $(docker ps -q --filter "label=wisp.invoker=$SA_INVOKER" | wc -l)}" >"$parts/rss_a_after.json"
stop_standalone

# ---- I: CPU per warm invoke as instructions (no noise from the machine's load): `perf stat -e
# instructions` on the standalone where the machine has the counters, else the standalone under
# valgrind's callgrind (user-space instructions only). Counters zeroed after a warm-up, INSTR_N
# warm invokes one after the other, then an idle window as long as the invokes took (the
# background work of that much time), subtracted ----
instr_tool=callgrind
if perf_out=$(perf stat -x, -e instructions -- true 2>&1 >/dev/null) &&
  [[ $perf_out != *"not supported"* && $perf_out != *"not counted"* ]]; then
  instr_tool=perf
elif ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  instr_tool=""
  echo "run.sh: no perf instruction counters and no valgrind (tools/install-deps.sh): no instructions row" >&2
fi
# instr_count START|STOP FILE: the standalone's instructions between the two calls (STOP prints).
instr_count() {
  if [[ $instr_tool == perf ]]; then
    if [[ $1 == START ]]; then
      perf stat -x, -e instructions -p "$SA_PID" -o "$2" &
      PERF_PID=$!
      sleep 0.5
    else
      # Called in a $(...) subshell: perf is not its child to wait for; wait for its output.
      kill -INT "$PERF_PID"
      for _ in $(seq 1 100); do
        grep -q 'instructions' "$2" 2>/dev/null && break
        sleep 0.1
      done
      awk -F, '$3 ~ /instructions/ {print $1; exit}' "$2"
    fi
  elif [[ $1 == START ]]; then
    callgrind_control -z "$SA_PID" >/dev/null 2>&1
  else
    rm -f "$work"/instr/callgrind.out.*.*
    callgrind_control -d "$SA_PID" >/dev/null 2>&1
    for _ in $(seq 1 100); do
      compgen -G "$work/instr/callgrind.out.*.*" >/dev/null && break
      sleep 0.1
    done
    sleep 0.5  # the dump is written in one go, but give it a moment
    sed -n 's/^summary: //p' "$work"/instr/callgrind.out.*.* | head -1
  fi
}
if [[ -n $instr_tool ]]; then
  mkdir -p "$work/instr"
  [[ $instr_tool == callgrind ]] &&
    SA_WRAP=(valgrind --tool=callgrind "--callgrind-out-file=$work/instr/callgrind.out.%p")
  start_standalone instr --no-stem-cells --user-memory 4096
  SA_WRAP=()
  put_noop noop
  invoke noop
  url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
  "$bench" latency -n "$INSTR_WARM" --warmup 0 --url "$url" --auth "$AUTH" >/dev/null
  # For its first 30 s the invoker looks every activation up in the store before running it
  # (recorded_check_skew: a redelivery after a restart); count the steady state after that.
  echo "run.sh: instructions: waiting until the standalone has run 31 s (recorded_check_skew)" >&2
  while :; do
    sa_age=$(ps -o etimes= -p "$SA_PID" | tr -d ' ')
    [[ -n $sa_age ]] || { echo "run.sh: the standalone exited; see $SA_DIR for its log" >&2; exit 1; }
    ((sa_age >= 31)) && break
    sleep 1
  done
  instr_count START "$SA_DIR/perf_invokes.csv"
  t0=$(date +%s.%N)
  "$bench" latency -n "$INSTR_N" --warmup 0 --url "$url" --name instr --auth "$AUTH" \
    >"$parts/instr_latency.json"
  t1=$(date +%s.%N)
  ir_invokes=$(instr_count STOP "$SA_DIR/perf_invokes.csv")
  idle_s=$(python3 -c "print(round($t1 - $t0, 2))")
  instr_count START "$SA_DIR/perf_idle.csv"
  sleep "$idle_s"
  ir_idle=$(instr_count STOP "$SA_DIR/perf_idle.csv")
  python3 - "$parts/instr.json" "$instr_tool" "$INSTR_N" "${ir_invokes:-0}" "${ir_idle:-0}" \
    "$idle_s" "$parts/instr_latency.json" <<'PY'
import json, sys
out, tool, n, ir, idle, window, lat = sys.argv[1:8]
def count(text):  # a number, or 0 for an empty or "<not counted>" reading
    return int(text) if text.strip().isdigit() else 0
n, ir, idle = int(n), count(ir), count(idle)
per = round((ir - idle) / n) if n and ir else None
json.dump({'tool': tool, 'invokes': n, 'errors': json.load(open(lat))['rows'][0]['errors'],
           'instructions': ir, 'idle_instructions': idle, 'window_s': float(window),
           'counted': 'user-space instructions of wisp-standalone (valgrind --tool=callgrind)'
                      if tool == 'callgrind' else 'instructions of wisp-standalone (perf stat)',
           'per_invoke': per}, open(out, 'w'), indent=1)
print('instructions per warm invoke (%s): %s' % (tool, per), file=sys.stderr)
PY
  stop_standalone
fi

# ---- B: cold start from a stem cell; docker run baseline ----
start_standalone stem --user-memory 65536 --pause-grace-ms 600000
wait_running prewarm_python 1
sleep 2  # stem cells up; nothing invoked yet
echo "{\"idle_with_stem_cells_mb\": $(rss_mb "$SA_PID")}" >"$parts/rss_b.json"
"$bench" docker-run --image wisp/action-python:3.11 -n "$DOCKER_N" --label "bench-$$" >"$parts/docker_run.json"
"$bench" cold --api "$API" --auth "$AUTH" -n "$COLD_N" --prefix stem \
  --stem-cell prewarm_python --invoker "$SA_INVOKER" --settle-ms 500 >"$parts/cold_stem.json"
stop_standalone

# ---- C: idle without containers; cold start without a stem cell; paused container ----
start_standalone nostem --no-stem-cells --user-memory 65536 --pause-grace-ms 50
sleep 2
echo "{\"idle_no_containers_65536mb_budget_mb\": $(rss_mb "$SA_PID"), \"idle_threads_65536mb_budget\": $(threads "$SA_PID")}" >"$parts/rss_c.json"
"$bench" cold --api "$API" --auth "$AUTH" -n "$COLD_N" --prefix nostem --settle-ms 300 \
  >"$parts/cold_nostem.json"
"$bench" paused --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" -n "$PAUSED_N" \
  >"$parts/paused.json"
stop_standalone

# ---- D, E: churn over CHURN_ACTIONS actions of 128 MB, budget for all, then for CHURN_OVER ----
start_standalone churn_fit --no-stem-cells --user-memory $((CHURN_ACTIONS * 128))
"$bench" churn --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" --actions "$CHURN_ACTIONS" \
  --memory 128 --budget-mb $((CHURN_ACTIONS * 128)) --clients 8 --duration "$CHURN_DUR" >"$parts/churn_fit.json"
stop_standalone
start_standalone churn_over --no-stem-cells --user-memory $((CHURN_OVER * 128))
"$bench" churn --api "$API" --auth "$AUTH" --invoker "$SA_INVOKER" --actions "$CHURN_ACTIONS" \
  --memory 128 --budget-mb $((CHURN_OVER * 128)) --clients 8 --duration "$CHURN_OVER_DUR" >"$parts/churn_over.json"
stop_standalone

# ---- F: distributed: the same warm no-op through nginx (TLS), a controller, the dev Kafka
# broker and an invoker (1 + 1: latency beside standalone's; 1 + 2: throughput) ----
start_cluster dist_1x1 1 1
INV_PID=$(cat "$CLUSTER_DIR/pids/invoker0.pid")
sleep 2  # idle: up, nothing invoked yet, no container
echo "{\"controller_idle_mb\": $(rss_mb "$CTRL_PID"), \"controller_idle_threads\": $(threads "$CTRL_PID"), \"invoker_idle_mb\": $(rss_mb "$INV_PID"), \"invoker_idle_threads\": $(threads "$INV_PID")}" >"$parts/dist_rss_idle.json"
put_noop noop
invoke noop
wait_past_recorded_check "$INV_PID"
url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
"$bench" latency -n "$LAT_N" --warmup "$LAT_WARM" --url "$url" --name distributed --auth "$AUTH" \
  >"$parts/dist_latency.json"
echo "{\"store\": \"$DIST_STORE\", \"controllers\": 1, \"invokers\": 1}" >"$parts/dist_meta.json"
for c in $DIST1_CLIENTS; do
  # Throughput of the 1 + 1 topology; CPU per invoke of the controller and of the invoker.
  warm_cluster_pool "$url" "$c"
  "$bench" closed --url "$url" --auth "$AUTH" --clients "$c" --warmup "$DIST_WARM" \
    --duration "$CL_DUR" --watch-pid "$CTRL_PID" --watch-pid "$INV_PID" >"$parts/dist1_closed_$c.json"
done
stop_cluster
start_cluster dist_1x2 1 2
put_noop noop
invoke noop
invoke noop
# As for 1 + 1: the steady state, not the invokers' first 30 s. Measured inside that window (as
# before), every activation cost a CouchDB GET more (pouchdb-server: ~2 ms of CPU each), which
# made 1 + 2 look slower than 1 + 1 (564 against 1,378/s with 8 clients in the quiet run).
wait_past_recorded_check "$(cat "$CLUSTER_DIR/pids/invoker0.pid")" "$(cat "$CLUSTER_DIR/pids/invoker1.pid")"
url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
for c in $DIST_CLIENTS; do
  # The containers the concurrency needs are started first (cold starts, not measured).
  warm_cluster_pool "$url" "$c"
  "$bench" closed --url "$url" --auth "$AUTH" --clients "$c" --warmup "$DIST_WARM" \
    --duration "$CL_DUR" --watch-pid "$CTRL_PID" >"$parts/dist_closed_$c.json"
done
stop_cluster

# ---- K, L: soaks of SOAK_S seconds each (--soak-minutes). K: the operator's soak of the issue:
# defaults (stem cells on), --user-memory 4096, a no-op python action that logs one line, open
# loop at 400/s on 32 connections. L: the no-op at 80 % of the best closed-loop rate of (3) on
# 128 connections. Each records the latency (also per 10 s window), wisp-standalone's CPU, RSS
# and open fds and its containers over the measured window, the data dir's size and the
# warnings logged ----
# soak NAME RATE CONNECTIONS ACTION
soak() {
  local name=$1 rate=$2 conns=$3 action=$4 warn0 du0
  warn0=$(grep -c '\[warning\]' "$SA_DIR/stderr" || true)
  du0=$(du -sb "$SA_DIR/data" | cut -f1)
  "$bench" open --url "$API/api/v1/namespaces/_/actions/$action?blocking=true&result=true" \
    --auth "$AUTH" --rate "$rate" --connections "$conns" --warmup "$SOAK_WARM" --duration "$SOAK_S" \
    --series-s 10 --watch-pid "$SA_PID" --watch-invoker "$SA_INVOKER" >"$work/$name.open.json"
  python3 - "$parts/$name.json" "$work/$name.open.json" "$SA_DIR/stderr" "${warn0:-0}" "$du0" \
    "$(du -sb "$SA_DIR/data" | cut -f1)" <<'PY'
import collections, json, re, sys
out, part, stderr, warn0, du0, du1 = sys.argv[1:7]
r = json.load(open(part))
lines = [l for l in open(stderr, errors='replace') if '[warning]' in l][int(warn0):]
def kind(line):  # the message without its tid, ids and numbers
    text = re.sub(r'^\[[^\]]*\]\s*', '', line.split('[warning]', 1)[1].strip())
    return re.sub(r'[0-9]+', 'N', re.sub(r'\b[0-9A-Za-z_-]{16,}\b', 'ID', text))[:160]
kinds = collections.Counter(kind(l) for l in lines)
r['warnings'] = len(lines)
r['warning_kinds'] = [{'count': c, 'text': t} for t, c in kinds.most_common(5)]
r['data_dir_bytes'] = {'start': int(du0), 'end': int(du1)}
json.dump(r, open(out, 'w'), indent=1)
PY
}
if [[ $SOAK_S -gt 0 ]]; then
  start_standalone soak_400 --user-memory 4096
  curl -skf -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
    -d '{"exec":{"kind":"python:3","code":"def main(args):\n    print(\"soak\")\n    return {}\n"}}' \
    "$API/api/v1/namespaces/_/actions/logs_one_line?overwrite=true" >/dev/null
  invoke logs_one_line
  soak soak_400 400 32 logs_one_line
  stop_standalone
  start_standalone soak_80pct --no-stem-cells --user-memory 4096
  put_noop noop
  invoke noop
  soak soak_80pct "$(python3 -c "print(max(1.0, round($max_rps * 0.8, 1)))")" 128 noop
  stop_standalone
fi

echo "== done at +${SECONDS}s" >&2
read -r load1 load5 load15 _ </proc/loadavg
if [[ -z $out ]]; then
  if [[ $mode == quick ]]; then
    out=$work/result.json
  else
    out=$here/results/$(date +%Y-%m-%d)-$(hostname -s).json
  fi
fi
mkdir -p "$(dirname "$out")"
args=(--parts "$work" --out "$out" --load-end "$load1 $load5 $load15" --seconds $(( $(date +%s) - t_start )))
[[ $png == 1 ]] && args+=(--png "${out%.json}.png")
python3 "$here/report.py" "${args[@]}"
