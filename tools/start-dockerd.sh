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

answering && exit 0

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
