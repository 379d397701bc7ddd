#!/usr/bin/env bash
# bench/run.sh — the end-to-end benchmark behind `make bench` (see bench/README.md).
#
# Starts fresh wisp-standalone processes on free loopback ports (temp --data-dir, throttles
# raised), drives them with wisp-bench, stops them, then bench/report.py prints the table
# (targets with PASS/MISS), writes the JSON and draws the PNG. Figures are printed and stored,
# never asserted.
#
# usage: bench/run.sh [--build-dir DIR] [--quick|--full] [--out FILE.json] [--no-png]
#   --quick   a smoke run (a few samples per row, < 60 s); the JSON goes to a temp folder
#   --full    >= 1000 samples in every row, cold starts and churn included (≈ 30 min)
#   default   >= 1000 samples for the warm rows, fewer for cold starts (≈ 6 min on 2 cores)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
mode=default
out=""
png=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
    --quick) mode=quick; shift ;;
    --full) mode=full; shift ;;
    --out) out=$2; shift 2 ;;
    --no-png) png=0; shift ;;
    *) echo "usage: $0 [--build-dir DIR] [--quick|--full] [--out FILE.json] [--no-png]" >&2; exit 2 ;;
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
    COLD_N=2 DOCKER_N=2 PAUSED_N=3 CHURN_ACTIONS=10 CHURN_OVER=4 CHURN_DUR=2 CHURN_OVER_DUR=3 ;;
  full)
    LAT_N=5000 LAT_WARM=500 CL_WARM=3 CL_DUR=10 CLIENTS="1 8 32 128" OPEN_DUR=10 DIST_CLIENTS="1 8 32 128" DIST_WARM=5
    COLD_N=1000 DOCKER_N=1000 PAUSED_N=1000 CHURN_ACTIONS=100 CHURN_OVER=16 CHURN_DUR=20 CHURN_OVER_DUR=300 ;;
  *)
    LAT_N=2000 LAT_WARM=300 CL_WARM=5 CL_DUR=8 CLIENTS="1 8 32 128" OPEN_DUR=6 DIST_CLIENTS="8 32" DIST_WARM=5
    COLD_N=50 DOCKER_N=50 PAUSED_N=60 CHURN_ACTIONS=100 CHURN_OVER=16 CHURN_DUR=10 CHURN_OVER_DUR=30 ;;
esac

work=$(mktemp -d /tmp/wisp-bench.XXXXXX)
parts=$work/parts
mkdir -p "$parts"
SA_PID="" SA_DIR="" SA_INVOKER=""

stop_standalone() {
  [[ -n $SA_PID ]] || return 0
  kill -TERM "$SA_PID" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$SA_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SA_PID" 2>/dev/null || true
  wait "$SA_PID" 2>/dev/null || true
  # Belt and braces: the standalone removes its containers at shutdown.
  local left
  left=$(docker ps -aq --filter "label=wisp.invoker=$SA_INVOKER" 2>/dev/null || true)
  [[ -z $left ]] || docker rm -f $left >/dev/null 2>&1 || true
  SA_PID=""
}

CLUSTER_DIR=""
stop_cluster() {
  [[ -n $CLUSTER_DIR ]] || return 0
  "$root/tools/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2 || true
  CLUSTER_DIR=""
}

# start_cluster NAME CONTROLLERS INVOKERS: tools/local-cluster.sh up on loopback (dev broker,
# nginx with TLS in front); sets API (https, through nginx), AUTH, CTRL_PID. The dev broker holds
# every empty fetch for fetch.wait.max.ms, which is then the latency of each hop: 1 ms here (the
# production default against Apache Kafka is larger; see distributed/README.md).
start_cluster() {
  local name=$1 nc=$2 ni=$3 store=sqlite
  [[ -x ${WISP_POUCHDB_SERVER:-$root/.cache/npm/node_modules/.bin/pouchdb-server} ]] && store=couchdb
  CLUSTER_DIR=$work/$name
  local out
  out=$("$root/tools/local-cluster.sh" up --dir "$CLUSTER_DIR" --build-dir "$build" --store "$store" \
    --controllers "$nc" --invokers "$ni" \
    --controller-args "--invocations-per-minute 100000000 --concurrent-invocations 100000 --kafka-fetch-wait-ms 1" \
    --invoker-args "--no-stem-cells --user-memory 4096 --kafka-fetch-wait-ms 1" 2>&1) ||
    { echo "$out" | tail -20 >&2; echo "run.sh: tools/local-cluster.sh up failed" >&2; exit 1; }
  API=$(echo "$out" | sed -n 's/^APIHOST=//p' | tail -1)
  AUTH=$(echo "$out" | sed -n 's/^AUTH=//p' | tail -1)
  CTRL_PID=$(cat "$CLUSTER_DIR/pids/controller0.pid")
  DIST_STORE=$store
  echo "== $name: $nc controller(s), $ni invoker(s), store $store, through nginx on $API" >&2
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
  "$standalone" --port "$port" --data-dir "$SA_DIR/data" \
    --invocations-per-minute 100000000 --concurrent-invocations 100000 "$@" \
    >"$SA_DIR/stdout" 2>"$SA_DIR/stderr" &
  SA_PID=$!
  SA_INVOKER="0-$port"
  for _ in $(seq 1 600); do
    grep -q "wsk property set" "$SA_DIR/stdout" 2>/dev/null && break
    kill -0 "$SA_PID" 2>/dev/null || { echo "run.sh: wisp-standalone exited:" >&2; tail -20 "$SA_DIR/stderr" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "wsk property set" "$SA_DIR/stdout" || { echo "run.sh: wisp-standalone did not come up" >&2; exit 1; }
  API=http://127.0.0.1:$port
  AUTH=$(sed -n 's/.*--auth \([^ ]*\).*/\1/p' "$SA_DIR/stdout" | head -1)
  echo "== $name: wisp-standalone pid $SA_PID on $API ($*)" >&2
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
put_noop noop
invoke noop
url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
"$bench" latency -n "$LAT_N" --warmup "$LAT_WARM" --url "$url" --name distributed --auth "$AUTH" \
  >"$parts/dist_latency.json"
echo "{\"store\": \"$DIST_STORE\", \"controllers\": 1, \"invokers\": 1}" >"$parts/dist_meta.json"
stop_cluster
start_cluster dist_1x2 1 2
put_noop noop
invoke noop
invoke noop  # round robin: warm on both invokers
url="$API/api/v1/namespaces/_/actions/noop?blocking=true&result=true"
for c in $DIST_CLIENTS; do
  # The warm-up also starts the containers the concurrency needs (cold starts, not measured).
  "$bench" closed --url "$url" --auth "$AUTH" --clients "$c" --warmup "$DIST_WARM" \
    --duration "$CL_DUR" --watch-pid "$CTRL_PID" >"$parts/dist_closed_$c.json"
done
stop_cluster

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
