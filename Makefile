# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# The two commands of the README: `make demo` and `make test`. Both install what
# is missing (scripts/setup), build, and run.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all setup build demo test test-asan test-tsan bench bench-tls bench-txn fuzz soak install package clean \
        format format-check tidy tidy-changed

all: build

setup:
	@scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/harpc demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 600

# Installing and packaging (docs/install.md): `make install PREFIX=/opt/harpc`
# copies the binary, the library (shared and static), the headers, the CMake
# package and harpc.pc there; `make package` makes the Debian packages harpc
# and harpc-dev in $(BUILD)/ (cpack; dpkg-shlibdeps computes their Depends).
PREFIX ?= /usr/local

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

package: build
	cd $(BUILD) && cpack -G DEB

# Every suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang; the
# fuzz targets build with the same flags), and under ThreadSanitizer (gcc),
# each in its own build dir. A report in any process, a test or a harpc it started,
# fails the run (docs/sanitizers.md).
$(ASAN_BUILD)/build.ninja:
	CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DHARPC_SANITIZE=address -DHARPC_BUILD_BENCH=OFF

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DHARPC_SANITIZE=thread -DHARPC_BUILD_BENCH=OFF

# House style (CONTRIBUTING.md): clang-format (.clang-format) and the license
# header of every source file; `make format` fixes both, `make format-check`
# (CI) fails on any difference and changes nothing.
CXX_SOURCES = git ls-files -z '*.cc' '*.h'

format: setup
	$(CXX_SOURCES) | xargs -0 clang-format -i
	scripts/license-headers --fix

format-check: setup
	$(CXX_SOURCES) | xargs -0 clang-format --dry-run --Werror
	scripts/license-headers

# clang-tidy (.clang-tidy): `make tidy` checks every source file (about 20
# minutes on 2 cores), `make tidy-changed` (CI) those changed since the merge
# base with origin/main, or the last commit (scripts/tidy).
tidy: setup
	JOBS=$(JOBS) scripts/tidy

tidy-changed: setup
	JOBS=$(JOBS) scripts/tidy --changed

test-asan: setup $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	scripts/test-sanitized $(ASAN_BUILD) address

test-tsan: setup $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	scripts/test-sanitized $(TSAN_BUILD) thread

bench:
	@HARPC_SETUP_BENCH=1 scripts/setup
	$(MAKE) build
	bench/run.sh

# TLS: harpc over HTTPS vs nginx, harpc vs gRPC over TLS, handshakes/s, and
# what TLS costs harpc against plaintext in the same run (bench/tls.sh).
bench-tls:
	@HARPC_SETUP_BENCH=1 scripts/setup
	$(MAKE) build
	BUILD=$(BUILD) bench/tls.sh

# Committed transfers/s and fsyncs per transfer: harpc's transactions vs
# PostgreSQL's two-phase commit (bench/txn.sh).
bench-txn:
	@HARPC_SETUP_BENCH=1 scripts/setup
	$(MAKE) build
	BUILD=$(BUILD) bench/txn.sh

# The soak: the demo's whole topology in network namespaces under load and a
# random fault every few seconds for DURATION seconds, then its invariants
# (tests/chaos/soak.py; needs root, iproute2 and nftables; not run by `make test`).
DURATION ?= 600
soak: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target harpc
	/usr/bin/python3 tests/chaos/soak.py $(BUILD)/harpc --duration $(DURATION) $(SOAK_FLAGS)

# Fuzzing (docs/fuzzing.md): a clang build with ASan + UBSan and libFuzzer in
# build-asan, then every fuzz target for FUZZ_SECONDS (default 60) on its
# checked-in corpus; a table of executions and coverage, non-zero on a finding.
FUZZ_BUILD ?= build-asan
FUZZ_SECONDS ?= 60

fuzz: setup
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DHARPC_SANITIZE=address -DHARPC_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
