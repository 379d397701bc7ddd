# Wisp: the user-facing targets. Every target first installs what is missing.
#   make          configure + build (RelWithDebInfo) into build/
#   make test     build, then run every ctest label (unit, contract, fuzz, ...)
#   make asan     ASan+UBSan build of the unit tests, run
#   make tsan     ThreadSanitizer build of the unit tests, run
#   make fuzz     build the libFuzzer targets (clang) into build-fuzz/
#   make run      build and start the platform (wisp-standalone)
#   make cluster  build and start the distributed topology on this machine (tools/local-cluster.sh)
#   make images   build, then the platform images wisp/controller, wisp/invoker, ... (tools/build-images.sh)
#   make install  build, then install the wsk CLI to $(PREFIX)/bin (default /usr/local/bin)
#   make bench    build, then run the end-to-end benchmark (bench/run.sh): table, JSON, PNG
# Build types, sanitizers and the fuzz compilers are the presets' (CMakePresets.json: configure
# presets dev, asan-ubsan, tsan, fuzz; test presets dev, unit, asan-ubsan, tsan, fuzz), so
# `cmake --preset X` / `ctest --preset X` by hand do what make does. BUILD moves the dev tree.
#   make ARCH=arm64            cross build of every binary for arm64 into build-arm64/ (preset
#                              arm64: Debian's g++-aarch64-linux-gnu, install-deps --arch arm64)
#   make test-unit ARCH=arm64  the unit label of build-arm64/ under qemu-user (test preset arm64-unit)
#   make test-arm64-e2e        the arm64 wisp-standalone and wsk under qemu-user on the -arm64
#                              runtime images (tools/ci-arm64.sh --e2e-only; not in make test)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
ARCH ?=
PRESET := dev
UNIT_PRESET := unit
DEPS_FLAGS :=
ifeq ($(ARCH),arm64)
PRESET := arm64
UNIT_PRESET := arm64-unit
DEPS_FLAGS := --arch arm64
BUILD ?= build-arm64
# What the test preset arm64-unit leaves out, said on every run (no silent skip).
UNIT_NOTE := test-unit ARCH=arm64: not run under qemu-user: lint_json_parse, lint_nodiscard,\
  lint_nodiscard_self_test, nginx_front_test, helm_chart_test, grafana_dashboard_test,\
  console_unit_test (host-only checks of sources, scripts, templates and TypeScript: no arm64\
  code in them; make test-unit without ARCH runs them)
arm64_unsupported := $(filter-out all build deps test-unit clean,$(MAKECMDGOALS))
ifneq ($(arm64_unsupported),)
$(error ARCH=arm64 knows make, make test-unit and make clean (the cross build in build-arm64/); \
  '$(arm64_unsupported)' runs on the build host: run it without ARCH)
endif
else ifneq ($(filter-out amd64,$(ARCH)),)
$(error ARCH=$(ARCH): only ARCH=arm64 (cross build into build-arm64/) or no ARCH are known)
endif
BUILD ?= build
CMAKE_FLAGS ?=
CTEST_FLAGS ?=
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build test test-unit test-arm64-e2e asan tsan fuzz run cluster images bench install format clean

all: build

deps:
	@tools/install-deps.sh $(DEPS_FLAGS)

build: deps
	@cmake --preset $(PRESET) -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The fuzz targets need clang's libFuzzer: a separate build (build-fuzz/) of fuzz/ and only the
# libraries it links (common, proto, store, messaging, loadbalancer, controller), all of them
# instrumented; no unit tests or tools. FUZZ_SECONDS sets how long each target runs under ctest.
FUZZ_SECONDS ?= 10
fuzz: deps
	@cmake --preset fuzz -DWISP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

test: build fuzz
	@tools/test-setup.sh
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@tools/build-images.sh --build-dir $(BUILD)
	@ctest --preset dev --test-dir $(BUILD) -j $(JOBS) $(CTEST_FLAGS)
	@ctest --preset fuzz $(CTEST_FLAGS)

test-unit: build
	@$(if $(UNIT_NOTE),echo "$(UNIT_NOTE)")
	@ctest --preset $(UNIT_PRESET) --test-dir $(BUILD) -j $(JOBS) $(CTEST_FLAGS)

# The arm64 platform end to end under qemu-user (tests/arm64/standalone_arm64_e2e.sh): builds
# wisp-action-proxy, wisp-standalone and wsk into build-arm64/, the arm64 runtime images, runs it.
test-arm64-e2e:
	@tools/ci-arm64.sh --e2e-only --jobs $(JOBS)

asan: deps
	@cmake --preset asan-ubsan >/dev/null
	@tools/build-unit-tests.sh build-asan $(JOBS)
	@ctest --preset asan-ubsan -j $(JOBS) $(CTEST_FLAGS)

# ThreadSanitizer build of the unit tests (the stores' concurrency tests matter most here).
tsan: deps
	@cmake --preset tsan >/dev/null
	@tools/build-unit-tests.sh build-tsan $(JOBS)
	@ctest --preset tsan -j $(JOBS) $(CTEST_FLAGS)

# Starts Docker, builds the runtime images when they are missing or stale, then runs the
# platform in the foreground on 127.0.0.1:3233 (Ctrl-C stops it cleanly). RUN_ARGS adds flags,
# e.g. make run RUN_ARGS="--port 3300".
RUN_ARGS ?=
run: build
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@exec $(BUILD)/bin/wisp-standalone $(RUN_ARGS)

# The distributed topology on loopback (README "Distributed mode"): the dev Kafka broker,
# pouchdb-server, wisp-controller(s), wisp-invoker(s) and nginx with TLS, in the foreground until
# Ctrl-C, which stops all of it (tools/local-cluster.sh down). CLUSTER_ARGS adds flags, e.g.
# make cluster CLUSTER_ARGS="--controllers 2 --invokers 2" (or --store sqlite, --dir DIR).
CLUSTER_ARGS ?=
cluster: build
	@tools/test-setup.sh
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@exec tools/local-cluster.sh up --foreground --build-dir $(BUILD) $(CLUSTER_ARGS)

# The end-to-end benchmark on loopback (bench/README.md): prints a table with the targets,
# writes bench/results/<date>-<host>.json and a PNG chart next to it. BENCH_ARGS adds flags,
# e.g. make bench BENCH_ARGS=--full (>= 1000 samples in every row), or --quick (a smoke run).
BENCH_ARGS ?=
bench: build
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@bench/run.sh --build-dir $(BUILD) $(BENCH_ARGS)

# The platform images (deploy/images/README.md): wisp/controller, wisp/invoker, wisp/standalone,
# wisp/kafka-dev, wisp/pouchdb-server, wisp/nginx, built offline; unchanged ones are skipped.
images: build
	@tools/test-setup.sh
	@tools/start-dockerd.sh
	@tools/build-images.sh --build-dir $(BUILD)

PREFIX ?= /usr/local
install: build
	@install -D -m 0755 $(BUILD)/bin/wsk $(DESTDIR)$(PREFIX)/bin/wsk
	@echo "installed $(DESTDIR)$(PREFIX)/bin/wsk"

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz build-arm64
