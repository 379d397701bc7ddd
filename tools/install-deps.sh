#!/usr/bin/env bash
# Installs every Debian package Wisp needs to build, test and run.
# Idempotent: quiet when nothing is missing; names what it installs otherwise.
#   --arch arm64 (or WISP_ARCH=arm64): also what the arm64 cross build needs (make ARCH=arm64,
#   cmake/toolchains/aarch64-linux-gnu.cmake): see install_arm64 below.
set -euo pipefail

arch="${WISP_ARCH:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch="${2:-}"; shift 2 ;;
    --arch=*) arch="${1#--arch=}"; shift ;;
    *) echo "install-deps: unknown argument '$1' (usage: tools/install-deps.sh [--arch arm64])" >&2
       exit 2 ;;
  esac
done
if [[ -n $arch && $arch != amd64 && $arch != arm64 ]]; then
  echo "install-deps: --arch $arch: only arm64 (cross build) or amd64 (the default) are known" >&2
  exit 2
fi

# The arm64 cross build: Debian's cross compiler, qemu-user (amd64 packages: they run on the
# build host) and the arm64 multiarch -dev packages of every library the project links. Host
# tools (protoc, grpc_cpp_plugin, node) stay amd64. Adds the arm64 dpkg architecture once.
# apt-get is simulated first: when installing would remove any package (an amd64 -dev package
# that is not Multi-Arch: same), nothing is installed and the packages are named.
# libyaml-cpp-dev is such a package: its arm64 .deb is unpacked into /opt/wisp-cross/arm64
# instead (the toolchain file looks there), its shared library libyaml-cpp0.7:arm64 is a normal
# package. Installing the :arm64 libraries upgrades the amd64 twins to the same version
# (Multi-Arch: same packages must match), never removes them.
arm64_host_packages=(g++-aarch64-linux-gnu qemu-user-static binfmt-support arch-test)
arm64_libs=(librdkafka-dev libcurl4-openssl-dev libssl-dev libgrpc++-dev libprotobuf-dev libabsl-dev
            libboost-dev libsqlite3-dev libspdlog-dev libfmt-dev zlib1g-dev libyaml-cpp0.7)
wisp_cross_root=/opt/wisp-cross/arm64

install_arm64() {
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "install-deps: adding the arm64 dpkg architecture (dpkg --add-architecture arm64)"
    $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
  fi
  local want=("${arm64_host_packages[@]}") p missing=()
  for p in "${arm64_libs[@]}"; do want+=("$p:arm64"); done
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-deps: arm64 cross build: installing ${missing[*]}"
    local sim
    if ! sim="$($sudo apt-get install -s --no-install-recommends "${missing[@]}" 2>&1)"; then
      $sudo apt-get update -qq
      sim="$($sudo apt-get install -s --no-install-recommends "${missing[@]}" 2>&1)" || {
        echo "install-deps: apt-get cannot install the arm64 packages:" >&2
        echo "$sim" | tail -20 >&2
        exit 1
      }
    fi
    if grep -q '^Remv' <<<"$sim"; then
      echo "install-deps: installing the arm64 packages would remove these; nothing installed:" >&2
      grep '^Remv' <<<"$sim" >&2
      echo "install-deps: unpack the arm64 -dev package that is not Multi-Arch: same into" \
           "$wisp_cross_root instead (as for libyaml-cpp-dev)" >&2
      exit 1
    fi
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >>/tmp/wisp-install-deps.log 2>&1 || {
      echo "install-deps: apt-get failed; see /tmp/wisp-install-deps.log" >&2
      tail -20 /tmp/wisp-install-deps.log >&2
      exit 1
    }
  fi
  local libdir=$wisp_cross_root/usr/lib/aarch64-linux-gnu
  local version
  version="$(dpkg-query -W -f='${Version}' libyaml-cpp0.7:arm64)"
  if [[ "$(cat "$wisp_cross_root/.libyaml-cpp-dev" 2>/dev/null)" != "$version" ]]; then
    echo "install-deps: unpacking libyaml-cpp-dev:arm64 $version into $wisp_cross_root" \
         "(it cannot be installed beside the amd64 one)"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root \
      "libyaml-cpp-dev:arm64=$version") || {
      echo "install-deps: apt-get download libyaml-cpp-dev:arm64=$version failed (run" \
           "apt-get update, then this again)" >&2
      rm -rf "$tmp"
      exit 1
    }
    $sudo rm -rf "$wisp_cross_root"
    $sudo mkdir -p "$wisp_cross_root"
    $sudo dpkg-deb -x "$tmp"/libyaml-cpp-dev_*_arm64.deb "$wisp_cross_root"
    rm -rf "$tmp"
    # The -dev package's CMake files name libyaml-cpp.so.0.7.0 beside them: the installed one.
    $sudo ln -sf /usr/lib/aarch64-linux-gnu/libyaml-cpp.so.0.7.0 "$libdir/libyaml-cpp.so.0.7.0"
    $sudo ln -sf libyaml-cpp.so.0.7.0 "$libdir/libyaml-cpp.so.0.7"
    echo "$version" | $sudo tee "$wisp_cross_root/.libyaml-cpp-dev" >/dev/null
  fi
  # ctest runs the tests through qemu-aarch64-static itself; binfmt_misc is what lets an arm64
  # test start another arm64 program (and docker run --platform linux/arm64).
  if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    echo "install-deps: note: binfmt_misc has no qemu-aarch64 entry (update-binfmts --enable" \
         "qemu-aarch64, as root, with binfmt_misc mounted): the arm64 unit tests that start" \
         "another arm64 program skip or fail without it" >&2
  fi
}

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
  [[ $arch == arm64 ]] && install_arm64
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
[[ $arch == arm64 ]] && install_arm64
echo "install-deps: done"
