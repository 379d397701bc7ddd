# Wisp: the user-facing targets. Every target first installs what is missing.
#   make          configure + build (RelWithDebInfo) into build/
#   make test     build, then run every ctest label (unit, contract, fuzz, ...)
#   make asan     ASan+UBSan build of the unit tests, run
#   make tsan     ThreadSanitizer build of the unit tests, run
#   make fuzz     build the libFuzzer targets (clang) into build-fuzz/
#   make run      build and start the platform (wisp-standalone)
#   make install  build, then install the wsk CLI to $(PREFIX)/bin (default /usr/local/bin)
#   make bench    build, then run the end-to-end benchmark (bench/run.sh): table, JSON, PNG
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure --no-tests=error
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build test test-unit asan tsan fuzz run bench install format clean

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The fuzz targets need clang's libFuzzer: a separate build (build-fuzz/) of fuzz/ and only the
# libraries it links (common, proto, store, messaging, loadbalancer, controller), all of them
# instrumented; no unit tests or tools. FUZZ_SECONDS sets how long each target runs under ctest.
FUZZ_SECONDS ?= 10
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWISP_FUZZ_ONLY=ON -DWISP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

test: build fuzz
	@tools/test-setup.sh
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@cd $(BUILD) && ctest -j $(JOBS) $(CTEST_FLAGS) -LE fuzz
	@cd build-fuzz && ctest $(CTEST_FLAGS) -L fuzz

test-unit: build
	@cd $(BUILD) && ctest -j $(JOBS) $(CTEST_FLAGS) -L unit

asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DWISP_SANITIZE=address,undefined >/dev/null
	@tools/build-unit-tests.sh build-asan $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j $(JOBS) $(CTEST_FLAGS) -L unit

# ThreadSanitizer build of the unit tests (the stores' concurrency tests matter most here).
tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWISP_SANITIZE=thread >/dev/null
	@tools/build-unit-tests.sh build-tsan $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tools/tsan.supp" ctest -j $(JOBS) $(CTEST_FLAGS) -L unit

# Starts Docker, builds the runtime images when they are missing or stale, then runs the
# platform in the foreground on 127.0.0.1:3233 (Ctrl-C stops it cleanly). RUN_ARGS adds flags,
# e.g. make run RUN_ARGS="--port 3300".
RUN_ARGS ?=
run: build
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@exec $(BUILD)/bin/wisp-standalone $(RUN_ARGS)

# The end-to-end benchmark on loopback (bench/README.md): prints a table with the targets,
# writes bench/results/<date>-<host>.json and a PNG chart next to it. BENCH_ARGS adds flags,
# e.g. make bench BENCH_ARGS=--full (>= 1000 samples in every row), or --quick (a smoke run).
BENCH_ARGS ?=
bench: build
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@bench/run.sh --build-dir $(BUILD) $(BENCH_ARGS)

PREFIX ?= /usr/local
install: build
	@install -D -m 0755 $(BUILD)/bin/wsk $(DESTDIR)$(PREFIX)/bin/wsk
	@echo "installed $(DESTDIR)$(PREFIX)/bin/wsk"

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz
