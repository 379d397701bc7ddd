#!/usr/bin/env bash
# The distributed topology on one machine, on loopback, for users and tests: the dev Kafka broker
# (wisp-kafka-dev-broker), a store (pouchdb-server speaking CouchDB's API, or SQLite), N
# wisp-controller, M wisp-invoker and nginx in front (deploy/nginx). Only the actions run in
# Docker; the platform's processes run on this host.
#
#   tools/local-cluster.sh up [--controllers N] [--invokers M] [--dir DIR] [--store couchdb|sqlite]
#                             [--build-dir BUILD] [--controller-args 'ARGS'] [--invoker-args 'ARGS']
#                             [--foreground]
#       starts everything, waits until an invoke through nginx works, and prints last:
#         wsk property set --apihost https://127.0.0.1:<port> --auth <uuid:key> -i
#         APIHOST=https://127.0.0.1:<port>
#         AUTH=<uuid:key>
#       --controller-args/--invoker-args: extra flags for every wisp-controller / wisp-invoker
#       (e.g. '--invocations-per-minute 1000', '--no-stem-cells'); kept for `start`.
#       --foreground: then stays until Ctrl-C (or SIGTERM) and runs `down` (make cluster).
#   tools/local-cluster.sh kill <controller|invoker><i> [--signal KILL|TERM] [--dir DIR]
#   tools/local-cluster.sh start <controller|invoker><i> [--dir DIR] [--extra-args 'ARGS']
#       same flags as before; --extra-args adds flags for this start only (e.g. one invoker on
#       another Docker socket: start invoker1 --extra-args '--docker-socket /tmp/fake.sock')
#   tools/local-cluster.sh status [--dir DIR]   (also each invoker's control endpoint)
#   tools/local-cluster.sh env [--dir DIR]      export lines for `wisp-admin invoker ...`:
#       eval "$(tools/local-cluster.sh env)"; wisp-admin invoker list
#   tools/local-cluster.sh down [--dir DIR]   stops everything `up` started, removes its containers
#
# Defaults: 1 controller, 1 invoker, DIR .cache/cluster, store couchdb, BUILD build (or
# $WISP_BUILD_DIR). DIR holds the state file (DIR/state), logs (DIR/logs), pid files (DIR/pids),
# the store (DIR/wisp.db for sqlite; pouchdb-server keeps its data in memory), nginx's
# directory with the TLS certificate (DIR/nginx/tls) and the invokers' control token
# (DIR/control-token; each invoker serves InvokerControl on its own 127.0.0.1 port). Needs:
# `make` (the binaries), Docker with the runtime images (tools/start-dockerd.sh,
# tools/build-runtime-images.sh), nginx and openssl (tools/install-deps.sh), pouchdb-server for
# --store couchdb (tools/test-setup.sh).
# Word splitting of the space-separated port list and sourcing DIR/state are intended.
# shellcheck disable=SC2206,SC1090
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$root/tools/local-cluster.sh"

usage() { sed -n '2,30p' "$self" | sed 's/^# \{0,1\}//'; }
say() { echo "local-cluster: $*"; }
die() {
    echo "local-cluster: $*" >&2
    exit 1
}

# ---- options -------------------------------------------------------------------------------

cmd="${1:-}"
[[ -n $cmd ]] || {
    usage >&2
    exit 2
}
shift
[[ $cmd == -h || $cmd == --help || $cmd == help ]] && {
    usage
    exit 0
}

controllers=1
invokers=1
dir=".cache/cluster"
store_kind=couchdb
build="${WISP_BUILD_DIR:-build}"
foreground=0
CONTROLLER_ARGS=""
INVOKER_ARGS=""
signal=TERM
component=""
start_extra=""
while [[ $# -gt 0 ]]; do
    opt="$1"
    case "$opt" in
        --foreground)
            foreground=1
            shift
            continue
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        --*) [[ $# -ge 2 ]] || die "$opt needs a value" ;;
        *)
            [[ -z $component ]] || die "unexpected argument '$opt' (see --help)"
            component="$opt"
            shift
            continue
            ;;
    esac
    case "$opt" in
        --controllers) controllers="$2" ;;
        --invokers) invokers="$2" ;;
        --dir) dir="$2" ;;
        --store) store_kind="$2" ;;
        --build-dir) build="$2" ;;
        --signal) signal="$2" ;;
        --controller-args) CONTROLLER_ARGS="$2" ;;
        --invoker-args) INVOKER_ARGS="$2" ;;
        --extra-args) start_extra="$2" ;;
        *) die "unknown option $opt (see --help)" ;;
    esac
    shift 2
done
[[ $controllers =~ ^[1-9][0-9]*$ ]] || die "--controllers must be a number >= 1"
[[ $invokers =~ ^[1-9][0-9]*$ ]] || die "--invokers must be a number >= 1"
[[ $store_kind == couchdb || $store_kind == sqlite ]] || die "--store must be couchdb or sqlite"
[[ $signal == KILL || $signal == TERM ]] || die "--signal must be KILL or TERM"
[[ $build == /* ]] || build="$root/$build"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
state="$dir/state"

# ---- helpers -------------------------------------------------------------------------------

# free_ports N: N distinct free TCP ports on 127.0.0.1 (all held open until all are chosen).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# A zombie is not alive: the components are orphans (their `up` exited), reaped by PID 1, which
# in some sandboxes does so only every second or two (kill -0 still succeeds until then).
alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}
pid_of() { cat "$dir/pids/$1.pid" 2>/dev/null || true; }

# launch NAME ARGV...: starts ARGV in its own session (so a Ctrl-C or the caller's process group
# ending does not reach it), output appended to DIR/logs/NAME.log, pid in DIR/pids/NAME.pid.
launch() {
    local name=$1
    shift
    mkdir -p "$dir/logs" "$dir/pids"
    echo "=== $(date -u +%FT%TZ) $*" >>"$dir/logs/$name.log"
    setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
    echo $! >"$dir/pids/$name.pid"
}

log_tail() {
    echo "--- last lines of $dir/logs/$1.log:" >&2
    tail -n 20 "$dir/logs/$1.log" >&2 2>/dev/null || true
}

# wait_port PORT NAME SECONDS: until 127.0.0.1:PORT accepts a connection; fails when NAME dies.
wait_port() {
    local port=$1 name=$2 until=$((SECONDS + $3))
    while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! alive "$(pid_of "$name")"; then
            log_tail "$name"
            return 1
        fi
        ((SECONDS < until)) || {
            log_tail "$name"
            return 1
        }
        sleep 0.1
    done
}

# stop NAME SIGNAL GRACE: signals NAME's process, waits up to GRACE seconds, then SIGKILL.
stop() {
    local name=$1 sig=$2 grace=$3 pid
    pid="$(pid_of "$name")"
    alive "$pid" || {
        rm -f "$dir/pids/$name.pid"
        return 0
    }
    kill -s "$sig" "$pid" 2>/dev/null || true
    local until=$((SECONDS + grace))
    while alive "$pid" && ((SECONDS < until)); do sleep 0.1; done
    if alive "$pid"; then
        say "$name did not stop within ${grace}s; SIGKILL"
        log_tail "$name"  # what it was still waiting for (its shutdown steps are logged)
        kill -s KILL "$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$dir/pids/$name.pid"
}

# The command line of a component, from the state file's values.
component_argv() {
    local kind=$1 id=$2
    argv=("$build/bin/wisp-$kind" --id "$id" --kafka "127.0.0.1:$BROKER_PORT"
        --topic-prefix "$PREFIX" --store "$STORE_URI")
    local extra
    if [[ $kind == controller ]]; then
        local ports=($CONTROLLER_PORTS)
        argv+=(--host 127.0.0.1 --port "${ports[$id]}" --api-host "$APIHOST")
        extra="${CONTROLLER_ARGS:-}"
    else
        argv+=(--api-host "$APIHOST")
        if [[ -n ${INVOKER_CONTROL_PORTS:-} ]]; then
            local control_ports=($INVOKER_CONTROL_PORTS)
            argv+=(--control-listen "127.0.0.1:${control_ports[$id]}"
                --control-token-file "$dir/control-token")
        fi
        extra="${INVOKER_ARGS:-}"
    fi
    # The dev broker answers a waiting fetch as soon as a record arrives (its long-poll proxy),
    # so the wait costs no latency; 100 ms keeps idle consumers from polling it often.
    [[ " $extra " == *" --kafka-fetch-wait-ms "* ]] || argv+=(--kafka-fetch-wait-ms 100)
    # shellcheck disable=SC2206
    argv+=($extra)
    # `start --extra-args`: this start only (not kept in the state file).
    # shellcheck disable=SC2206
    argv+=($start_extra)
}

load_state() {
    [[ -r $state ]] || die "no cluster in $dir (no $state); start one with: tools/local-cluster.sh up --dir $dir"
    # shellcheck disable=SC1090
    source "$state"
    build="$BUILD"
}

# Containers of this cluster's invokers: labelled wisp.invoker=<topic prefix><id>, and their
# network sandboxes, labelled wisp.network-sandbox=<topic prefix><id>.
remove_containers() {
    command -v docker >/dev/null 2>&1 || return 0
    local ids="" label found
    for label in wisp.invoker wisp.network-sandbox; do
        found="$(docker ps -a --filter "label=$label" --format "{{.ID}} {{.Label \"$label\"}}" \
            2>/dev/null | awk -v p="$PREFIX" 'index($2, p) == 1 && substr($2, length(p) + 1) ~ /^[0-9]+$/ {print $1}')" || true
        [[ -z $found ]] || ids+="$found"$'\n'
    done
    ids=${ids%$'\n'}
    if [[ -n $ids ]]; then
        say "removing $(echo "$ids" | wc -l) action container(s)"
        # shellcheck disable=SC2086
        docker rm -f $ids >/dev/null 2>&1 || true
    fi
}

do_down() {
    local i
    local stops=()
    for ((i = 0; i < ${CONTROLLERS:-0}; ++i)); do
        stop "controller$i" TERM 30 &
        stops+=($!)
    done
    ((${#stops[@]} == 0)) || wait "${stops[@]}"
    if [[ -s $dir/nginx/nginx.pid ]] && alive "$(cat "$dir/nginx/nginx.pid")"; then
        cp "$dir/nginx/nginx.pid" "$dir/pids/nginx.pid"
    fi
    stop nginx QUIT 10
    stops=()
    for ((i = 0; i < ${INVOKERS:-0}; ++i)); do
        stop "invoker$i" TERM 60 &
        stops+=($!)
    done
    ((${#stops[@]} == 0)) || wait "${stops[@]}"
    stop store TERM 10
    stop broker TERM 10
    remove_containers
}

# ---- up ------------------------------------------------------------------------------------

fail_up() { exit 1; }
up_cleanup() {
    ((up_done)) && return
    echo "local-cluster: up failed; stopping what was started (logs stay in $dir/logs)" >&2
    do_down >&2
    rm -f "$state"
}

cmd_up() {
    if [[ -r $state ]]; then
        (
            source "$state"
            for f in "$dir"/pids/*.pid; do
                [[ -e $f ]] || continue
                if alive "$(cat "$f")"; then exit 1; fi
            done
        ) || die "a cluster is already running in $dir; stop it first: tools/local-cluster.sh down --dir $dir"
    fi
    local b
    for b in wisp-kafka-dev-broker wisp-controller wisp-invoker wisp-admin; do
        [[ -x $build/bin/$b ]] || die "$build/bin/$b not found: run \`make\` first (or pass --build-dir)"
    done
    command -v nginx >/dev/null || die "nginx not found: run tools/install-deps.sh"
    command -v openssl >/dev/null || die "openssl not found: run tools/install-deps.sh"
    command -v python3 >/dev/null || die "python3 not found: run tools/install-deps.sh"
    command -v curl >/dev/null || die "curl not found: run tools/install-deps.sh"
    local pouchdb="${WISP_POUCHDB_SERVER:-$root/.cache/npm/node_modules/.bin/pouchdb-server}"
    if [[ $store_kind == couchdb && ! -x $pouchdb ]]; then
        die "pouchdb-server not found at $pouchdb: run tools/test-setup.sh (or use --store sqlite)"
    fi
    # Invokers whose actions run as Kubernetes pods need no Docker.
    if [[ " ${INVOKER_ARGS:-} " != *" --container-factory kubernetes "* ]]; then
        docker info >/dev/null 2>&1 || die "Docker is not reachable: run tools/start-dockerd.sh"
    fi

    rm -rf "$dir/pids" "$dir/logs"
    mkdir -p "$dir/pids" "$dir/logs"
    # The ports: broker, store, nginx https + http, controllers, invokers' control services.
    local ports
    read -r -a ports <<<"$(free_ports $((4 + controllers + invokers)))"
    BUILD="$build"
    BROKER_PORT=${ports[0]}
    local store_port=${ports[1]}
    HTTPS_PORT=${ports[2]}
    HTTP_PORT=${ports[3]}
    CONTROLLER_PORTS="${ports[*]:4:controllers}"
    INVOKER_CONTROL_PORTS="${ports[*]:4+controllers}"
    # The invokers' control token (wisp-admin invoker ...: see `env`), readable by us only.
    (umask 077 && openssl rand -hex 24 >"$dir/control-token")
    CONTROLLERS=$controllers
    INVOKERS=$invokers
    APIHOST="https://127.0.0.1:$HTTPS_PORT"
    # Topics and container labels unique to this cluster (several may share one Docker host).
    PREFIX="lc$$_"
    if [[ $store_kind == sqlite ]]; then
        STORE_URI="sqlite:$dir/wisp.db"
    else
        STORE_URI="couchdb:http://127.0.0.1:$store_port/?prefix=wisp_"
    fi
    {
        echo "# written by tools/local-cluster.sh up; read by kill/start/status/down"
        local v
        for v in BUILD BROKER_PORT HTTPS_PORT HTTP_PORT CONTROLLER_PORTS CONTROLLERS INVOKERS \
            APIHOST PREFIX STORE_URI CONTROLLER_ARGS INVOKER_ARGS INVOKER_CONTROL_PORTS; do
            printf '%s=%q\n' "$v" "${!v}"
        done
        echo "STORE_KIND=$store_kind"
    } >"$state"
    up_done=0
    trap 'up_cleanup' EXIT

    say "starting the dev Kafka broker on 127.0.0.1:$BROKER_PORT"
    launch broker "$build/bin/wisp-kafka-dev-broker" --port "$BROKER_PORT"
    wait_port "$BROKER_PORT" broker 30 || fail_up

    if [[ $store_kind == couchdb ]]; then
        say "starting pouchdb-server (CouchDB API, in memory) on 127.0.0.1:$store_port"
        mkdir -p "$dir/couchdb"
        (cd "$dir/couchdb" && launch store "$pouchdb" --in-memory --host 127.0.0.1 \
            --port "$store_port" --config "$dir/couchdb/config.json" --no-color)
        wait_port "$store_port" store 60 || fail_up
        local until=$((SECONDS + 60))
        until curl -fsS "http://127.0.0.1:$store_port/" >/dev/null 2>&1; do
            ((SECONDS < until)) || { log_tail store; fail_up; }
            sleep 0.2
        done
    else
        say "store: SQLite at $dir/wisp.db"
    fi
    say "initialising the store (guest and whisk.system keys)"
    if ! out="$("$build/bin/wisp-admin" --store "$STORE_URI" init 2>&1)"; then
        echo "$out" >&2
        fail_up
    fi

    local i argv
    for ((i = 0; i < controllers; ++i)); do
        component_argv controller "$i"
        say "starting controller$i on 127.0.0.1:$(echo $CONTROLLER_PORTS | cut -d' ' -f$((i + 1)))"
        launch "controller$i" "${argv[@]}"
    done
    for ((i = 0; i < invokers; ++i)); do
        component_argv invoker "$i"
        say "starting invoker$i"
        launch "invoker$i" "${argv[@]}"
    done
    local cports=($CONTROLLER_PORTS) upstreams=""
    for ((i = 0; i < controllers; ++i)); do
        wait_port "${cports[$i]}" "controller$i" 60 || fail_up
        upstreams+="${upstreams:+,}127.0.0.1:${cports[$i]}"
    done

    say "starting nginx on https://127.0.0.1:$HTTPS_PORT (http://127.0.0.1:$HTTP_PORT redirects)"
    "$root/deploy/nginx/render.sh" --controllers "$upstreams" --https-port "$HTTPS_PORT" \
        --http-port "$HTTP_PORT" --dir "$dir/nginx" >"$dir/logs/nginx-render.log" 2>&1 ||
        { cat "$dir/logs/nginx-render.log" >&2; fail_up; }
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/logs/error.log" \
        >>"$dir/logs/nginx.log" 2>&1 || { log_tail nginx; fail_up; }
    until [[ -s $dir/nginx/nginx.pid ]]; do sleep 0.1; done
    cp "$dir/nginx/nginx.pid" "$dir/pids/nginx.pid"

    # Every invoker pinging (seen by controller 0), then one invoke through nginx.
    say "waiting for $invokers invoker(s) to report"
    local want="" until=$((SECONDS + 180)) got=""
    for ((i = 0; i < invokers; ++i)); do want+="${want:+,}\"invoker$i/$i\":\"up\""; done
    while [[ $got != "{$want}" ]]; do
        got="$(curl -fsS "http://127.0.0.1:${cports[0]}/invokers" 2>/dev/null || true)"
        for ((i = 0; i < invokers; ++i)); do
            alive "$(pid_of "invoker$i")" || { log_tail "invoker$i"; fail_up; }
        done
        ((SECONDS < until)) || { say "invokers not up after 180 s: $got" >&2; fail_up; }
        [[ $got == "{$want}" ]] || sleep 0.2
    done

    AUTH="$("$build/bin/wisp-admin" --store "$STORE_URI" user get guest 2>/dev/null | head -n1)" || true
    [[ $AUTH == *:* ]] || AUTH="23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
    printf 'AUTH=%q\n' "$AUTH" >>"$state"
    say "checking an invoke through nginx"
    local action="$APIHOST/api/v1/namespaces/_/actions/local-cluster-check-$$" code=""
    local body='{"exec":{"kind":"python:3.11","code":"def main(a):\n    return {\"ok\": True}\n"}}'
    curl -ksS -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
        --data "$body" "$action?overwrite=true" || fail_up
    until=$((SECONDS + 120))
    while :; do
        code="$(curl -ksS -o "$dir/logs/check.json" -w '%{http_code}' -u "$AUTH" -X POST \
            -H 'Content-Type: application/json' --data '{}' \
            "$action?blocking=true&result=true" 2>/dev/null || true)"
        [[ $code == 200 ]] && break
        ((SECONDS < until)) || {
            say "the check invoke through nginx answered $code: $(cat "$dir/logs/check.json" 2>/dev/null)" >&2
            fail_up
        }
        sleep 1
    done
    curl -ksS -o /dev/null -u "$AUTH" -X DELETE "$action" || true
    up_done=1
    trap - EXIT

    say "up: $controllers controller(s), $invokers invoker(s), store $store_kind; logs in $dir/logs"
    say "invokers' control: eval \"\$(tools/local-cluster.sh env --dir $dir)\"; then wisp-admin invoker list"
    echo "wsk property set --apihost $APIHOST --auth $AUTH -i"
    echo "APIHOST=$APIHOST"
    echo "AUTH=$AUTH"
}

# ---- kill / start / status -----------------------------------------------------------------

parse_component() {
    [[ $component =~ ^(controller|invoker)([0-9]+)$ ]] ||
        die "name a component: controller<i> or invoker<i> (see: tools/local-cluster.sh status --dir $dir)"
    kind=${BASH_REMATCH[1]}
    id=${BASH_REMATCH[2]}
    local n=$CONTROLLERS
    [[ $kind == invoker ]] && n=$INVOKERS
    ((id < n)) || die "this cluster has $n ${kind}s (0..$((n - 1)))"
}

cmd_kill() {
    load_state
    parse_component
    local pid
    pid="$(pid_of "$component")"
    alive "$pid" || die "$component is not running (start it: tools/local-cluster.sh start $component --dir $dir)"
    if [[ $signal == KILL ]]; then
        kill -s KILL "$pid"
        while alive "$pid"; do sleep 0.1; done
        rm -f "$dir/pids/$component.pid"
    else
        stop "$component" TERM 60
    fi
    say "$component stopped (SIG$signal)"
}

cmd_start() {
    load_state
    parse_component
    alive "$(pid_of "$component")" && die "$component is already running"
    local argv
    component_argv "$kind" "$id"
    local log_lines
    log_lines=$(cat "$dir/logs/$component.log" 2>/dev/null | wc -l)
    launch "$component" "${argv[@]}"
    if [[ $kind == controller ]]; then
        local ports=($CONTROLLER_PORTS)
        wait_port "${ports[$id]}" "$component" 60 || die "$component did not start (log above)"
    else
        # Up when it prints "invokerN ready" (after its id claim: up to the lease after a kill).
        local until=$((SECONDS + 120))
        until tail -n +"$((log_lines + 1))" "$dir/logs/$component.log" | grep -x "$component ready" >/dev/null; do
            alive "$(pid_of "$component")" || { log_tail "$component"; die "$component exited"; }
            ((SECONDS < until)) || die "$component not ready after 120 s ($dir/logs/$component.log)"
            sleep 0.2
        done
    fi
    say "$component started (pid $(pid_of "$component"))"
}

cmd_status() {
    load_state
    local name pid i ports=($CONTROLLER_PORTS) extra
    echo "cluster in $dir: $APIHOST, store ${STORE_KIND:-?}"
    local names=(broker)
    [[ ${STORE_KIND:-} == couchdb ]] && names+=(store)
    for ((i = 0; i < CONTROLLERS; ++i)); do names+=("controller$i"); done
    for ((i = 0; i < INVOKERS; ++i)); do names+=("invoker$i"); done
    names+=(nginx)
    for name in "${names[@]}"; do
        pid="$(pid_of "$name")"
        extra=""
        [[ $name == broker ]] && extra="127.0.0.1:$BROKER_PORT"
        [[ $name =~ ^controller([0-9]+)$ ]] && extra="127.0.0.1:${ports[${BASH_REMATCH[1]}]}"
        if [[ $name =~ ^invoker([0-9]+)$ && -n ${INVOKER_CONTROL_PORTS:-} ]]; then
            local control_ports=($INVOKER_CONTROL_PORTS)
            extra="control 127.0.0.1:${control_ports[${BASH_REMATCH[1]}]}"
        fi
        [[ $name == nginx ]] && extra="$APIHOST"
        if alive "$pid"; then
            printf '%-14s running  pid %-8s %s\n' "$name" "$pid" "$extra"
        else
            printf '%-14s stopped  %-12s %s\n' "$name" "" "$extra"
        fi
    done
}

# Export lines for wisp-admin against this cluster (invoker list|status|drain|enable).
cmd_env() {
    load_state
    printf 'export WISP_KAFKA=%q\n' "127.0.0.1:$BROKER_PORT"
    printf 'export WISP_TOPIC_PREFIX=%q\n' "$PREFIX"
    printf 'export WISP_CONTROL_TOKEN_FILE=%q\n' "$dir/control-token"
    printf 'export WISP_STORE=%q\n' "$STORE_URI"
}

cmd_down() {
    [[ -r $state ]] || {
        say "no cluster in $dir"
        return 0
    }
    load_state
    say "stopping the cluster in $dir"
    do_down
    rm -f "$state"
    say "down"
}

case "$cmd" in
    up)
        cmd_up
        if ((foreground)); then
            sleeper=""
            trap 'kill "$sleeper" 2>/dev/null; echo; cmd_down; exit 0' INT TERM
            say "running; Ctrl-C stops it"
            while :; do
                sleep 3600 &
                sleeper=$!
                wait "$sleeper" || true
            done
        fi
        ;;
    kill) cmd_kill ;;
    start) cmd_start ;;
    status) cmd_status ;;
    env) cmd_env ;;
    down) cmd_down ;;
    *)
        usage >&2
        die "unknown command '$cmd'"
        ;;
esac
