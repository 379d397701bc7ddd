#!/usr/bin/env bash
# Installs every Debian package Wisp needs to build, test and run.
# Idempotent: quiet when nothing is missing; names what it installs otherwise.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev clang-format
  # libraries the project is specified with
  librdkafka-dev libcurl4-openssl-dev libssl-dev rapidjson-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev
  catch2 libboost-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev zlib1g-dev
  # kubeconfig files (the invoker's Kubernetes container factory)
  libyaml-cpp-dev
  # tests and runtime: Node.js/npm for pouchdb-server and the npm openwhisk client;
  # python3 (with node and cc) runs the action proxy's host test
  nodejs npm curl ca-certificates python3
  # the distributed mode's front door (deploy/nginx): Debian's nginx and openssl for its
  # self-signed certificate
  nginx openssl
  # the Docker container backend: the engine (tools/start-dockerd.sh starts it) and the offline
  # base-image builder of tools/build-runtime-images.sh
  docker.io mmdebstrap
  # crun: registered by tools/start-dockerd.sh as the Docker runtime "crun" (--docker-runtime)
  crun
  # the compose deployment's test (tests/deploy/compose_test.py): Debian's docker-compose 1.29
  docker-compose
  # `make bench` draws its chart with gnuplot (bench/report.py)
  gnuplot-nox
  # helm_chart_test (helm/wisp without helm): tools/helm-render is Go with Debian's sprig and
  # yaml.v2; the rendered chart is checked with yamllint, python3-yaml and python3-jsonschema
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev
  yamllint python3-yaml python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node/npm may come from elsewhere than Debian; accept any working ones.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

# The web console (console/: Vite 7) needs Node.js >= 20.19. An older node is not an error: the
# build leaves the console out (CMake warns, WISP_CONSOLE is treated as OFF) and the rest works.
check_node() {
  command -v node >/dev/null || return 0
  local v
  v="$(node --version 2>/dev/null | sed 's/^v//')"
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  if [[ ! $major =~ ^[0-9]+$ || ! $minor =~ ^[0-9]+$ ]] ||
     (( major < 20 || (major == 20 && minor < 19) )); then
    echo "install-deps: Node.js ${v:-?} ($(command -v node)) is older than 20.19, which the web" \
         "console's build (Vite 7) needs: make builds everything else and leaves the console out" \
         "(/console/ answers 404). For the console, install Node.js >= 20.19 (Debian 13's" \
         "nodejs, or nodejs.org's binaries first on PATH), then run make again." >&2
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  check_node
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/wisp-install-deps.log 2>&1; then
  $sudo apt-get update -qq >>/tmp/wisp-install-deps.log 2>&1
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/wisp-install-deps.log 2>&1 || {
    echo "install-deps: apt-get failed; see /tmp/wisp-install-deps.log" >&2
    tail -20 /tmp/wisp-install-deps.log >&2
    exit 1
  }
fi
check_node
echo "install-deps: done"
