#!/usr/bin/env bash
# Makes sure a Docker daemon answers on /var/run/docker.sock; starts one when it does not.
#
# Idempotent: exits 0 quietly when `docker info` (or the Engine API) already works. Otherwise it
# installs docker.io when dockerd is missing (Debian), starts dockerd in the background in its own
# session (so it outlives the shell, CI step or test that called this script), and waits up to
# WISP_DOCKERD_WAIT seconds (default 30) for the socket to answer. On failure it prints what went
# wrong and the end of the daemon's log, and exits 1.
#
# usage: tools/start-dockerd.sh            (as root, or with sudo available)
# Environment: WISP_DOCKERD_LOG (default /var/log/wisp-dockerd.log, else /tmp/wisp-dockerd.log),
#              WISP_DOCKERD_WAIT (seconds, default 30).
# crun: when Debian's crun is installed (tools/install-deps.sh installs it) it is registered as
# the Docker runtime "crun" in /etc/docker/daemon.json ("runtimes"; other settings there are
# kept), so `--docker-runtime crun` (HostConfig.Runtime) can use it; runc stays the default. A
# daemon already running is told with SIGHUP (runtimes are reloadable: its containers stay).
# Used by CI and by the invoker's docker integration tests.
set -euo pipefail

sock=/var/run/docker.sock
pidfile=/var/run/docker.pid
wait_s=${WISP_DOCKERD_WAIT:-30}

say() { echo "start-dockerd: $*" >&2; }

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { say "not root and no sudo: run this script as root"; exit 1; }
  sudo="sudo -n"
fi

# Asks the Engine API itself, so the check does not depend on which docker CLI is installed
# (a newer client refuses an older daemon's API in some setups).
answering() {
  if command -v curl >/dev/null; then
    $sudo curl -sf --max-time 3 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
  else
    $sudo docker info >/dev/null 2>&1
  fi
}

# Registers crun in daemon.json; prints "changed" when the file was written.
register_crun() {
  local crun_path
  crun_path=$(command -v crun 2>/dev/null) || return 0
  $sudo python3 - "$crun_path" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
conf = {}
if os.path.exists(path):
    with open(path) as f:
        text = f.read().strip()
    conf = json.loads(text) if text else {}
runtimes = conf.setdefault("runtimes", {})
if runtimes.get("crun", {}).get("path") == sys.argv[1]:
    sys.exit(0)
runtimes["crun"] = {"path": sys.argv[1]}
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".tmp", "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
os.replace(path + ".tmp", path)
print("changed")
PY
}

# crun refuses a hybrid cgroup host (v1 hierarchies plus a cgroup2 mount) while a controller is
# still bound to the cgroup2 side ("cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2"); on such hosts (this VM kind: hugetlb only on /sys/fs/cgroup/unified) those
# controllers are mounted as v1 hierarchies too, as runc and docker expect on a v1 host.
hybrid_controllers_to_v1() {
  local unified=/sys/fs/cgroup/unified c
  [[ -r $unified/cgroup.controllers ]] || return 0
  [[ -d /sys/fs/cgroup/memory ]] || return 0  # not a v1 host
  [[ -z $(cat "$unified/cgroup.subtree_control" 2>/dev/null) ]] || return 0  # in use on v2
  for c in $(cat "$unified/cgroup.controllers"); do
    [[ -d /sys/fs/cgroup/$c ]] && mountpoint -q "/sys/fs/cgroup/$c" && continue
    $sudo mkdir -p "/sys/fs/cgroup/$c" &&
      $sudo mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ||
      say "could not mount the $c cgroup (v1); crun may refuse to start containers"
  done
  return 0
}
if command -v crun >/dev/null; then hybrid_controllers_to_v1; fi

# The runtimes of a daemon already up are reloaded in place (SIGHUP keeps its containers).
crun_registered() {
  $sudo curl -sf --max-time 3 --unix-socket "$sock" http://localhost/info 2>/dev/null |
    grep -q '"crun"'
}

if answering; then
  if command -v crun >/dev/null && command -v curl >/dev/null && ! crun_registered; then
    register_crun >/dev/null || say "could not register crun in /etc/docker/daemon.json"
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $pid ]] && [[ -d /proc/$pid ]]; then
      $sudo kill -HUP "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do crun_registered && break; sleep 0.1; done
      crun_registered && say "registered the crun runtime (daemon reloaded)"
    fi
  fi
  exit 0
fi

if ! command -v dockerd >/dev/null; then
  say "dockerd is missing; installing docker.io (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  {
    $sudo apt-get install -y -qq --no-install-recommends docker.io ||
      { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends docker.io; }
  } >/tmp/wisp-apt-docker.log 2>&1 || {
    say "apt-get install docker.io failed; see /tmp/wisp-apt-docker.log"
    tail -20 /tmp/wisp-apt-docker.log >&2
    exit 1
  }
fi

# A systemd-managed machine: prefer the service (it owns the socket activation and cgroups).
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  if $sudo systemctl start docker >/dev/null 2>&1; then
    for ((i = 0; i < wait_s * 10; i++)); do
      answering && exit 0
      sleep 0.1
    done
  fi
  say "systemctl start docker did not bring the daemon up; starting dockerd directly"
fi

log=${WISP_DOCKERD_LOG:-}
if [[ -z $log ]]; then
  log=/var/log/wisp-dockerd.log
  $sudo touch "$log" 2>/dev/null || log=/tmp/wisp-dockerd.log
fi

# A daemon that is alive but not answering (still starting, or stuck): wait for it rather than
# starting a second one on the same data root.
pid=""
[[ -f $pidfile ]] && pid=$(cat "$pidfile" 2>/dev/null || true)
if [[ -n $pid ]] && [[ -d /proc/$pid ]] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
  say "dockerd (pid $pid) is running but not answering yet; waiting"
else
  # A stale socket or pidfile from a daemon that was killed makes dockerd refuse to start.
  [[ -n $pid ]] && $sudo rm -f "$pidfile"
  [[ -S $sock ]] && $sudo rm -f "$sock"
  register_crun >/dev/null || say "could not register crun in /etc/docker/daemon.json"
  say "starting dockerd (log: $log)"
  # setsid: its own session and process group, so killing the caller's group leaves it running.
  $sudo setsid -f sh -c "exec dockerd --pidfile '$pidfile' >>'$log' 2>&1 </dev/null"
fi

for ((i = 0; i < wait_s * 10; i++)); do
  if answering; then
    say "dockerd is up ($(( i / 10 )).$(( i % 10 )) s)"
    exit 0
  fi
  sleep 0.1
done

say "Docker at $sock is still not answering after ${wait_s} s."
if [[ -f $log ]]; then
  say "last lines of $log:"
  $sudo tail -25 "$log" | sed 's/^/    /' >&2
fi
say "check the log above; dockerd needs root, cgroups and iptables (or run it with --iptables=false)"
exit 1
