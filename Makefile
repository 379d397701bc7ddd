# Wisp: the user-facing targets. Every target first installs what is missing.
#   make          configure + build (RelWithDebInfo) into build/
#   make test     build, then run every ctest label (unit, contract, fuzz, ...)
#   make asan     ASan+UBSan build of the unit tests, run
#   make tsan     ThreadSanitizer build of the unit tests, run
#   make fuzz     build the libFuzzer targets (clang) into build-fuzz/
#   make run      build and start the platform (wisp-standalone)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure --no-tests=error

.PHONY: all deps build test test-unit asan tsan fuzz run format clean

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The fuzz targets need clang's libFuzzer: a separate, small build of common/ + fuzz/.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWISP_FUZZ_ONLY=ON >/dev/null
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
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j $(JOBS) $(CTEST_FLAGS) -L unit

# ThreadSanitizer build of the unit tests (the stores' concurrency tests matter most here).
tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWISP_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tools/tsan.supp" ctest -j $(JOBS) $(CTEST_FLAGS) -L unit

# Starts Docker, builds the runtime images when they are missing or stale, then runs the
# platform in the foreground on 127.0.0.1:3233 (Ctrl-C stops it cleanly). RUN_ARGS adds flags,
# e.g. make run RUN_ARGS="--port 3300".
RUN_ARGS ?=
run: build
	@tools/start-dockerd.sh
	@tools/build-runtime-images.sh --build-dir $(BUILD)
	@exec $(BUILD)/bin/wisp-standalone $(RUN_ARGS)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz
