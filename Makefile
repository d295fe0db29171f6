# The two commands of the README: `make demo` and `make test`. Both install what
# is missing (scripts/setup), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all setup build demo test bench bench-tls bench-txn fuzz soak clean

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
	rm -rf $(BUILD)
