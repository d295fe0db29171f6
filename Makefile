# The two commands of the README: `make demo` and `make test`. Both install what
# is missing (scripts/setup), build, and run.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all setup build demo test test-asan test-tsan bench bench-tls bench-txn clean

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

# Every suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang; the
# fuzz targets build with the same flags), and under ThreadSanitizer (gcc),
# each in its own build dir. A report in any process, a test or a harpc it started,
# fails the run (docs/sanitizers.md).
$(ASAN_BUILD)/build.ninja:
	CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DHARPC_SANITIZE=address -DHARPC_BUILD_BENCH=OFF

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DHARPC_SANITIZE=thread -DHARPC_BUILD_BENCH=OFF

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
