#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Failover benchmark: harpc's client-side high availability against HAProxy in
# front of the same three `harpc serve` backends (weights 5,1,1), under the
# same closed-loop load (concurrency 8, 12 s), for two events:
#
#   kill       SIGKILL a weight-1 backend at t = 3 s
#   stop/cont  SIGSTOP a weight-1 backend at t = 3 s, SIGCONT it at t = 7 s
#   none       (harpc only) no fault: a control run
#
# harpc:   list://A=5,B=1,C=1 --health-interval-ms 500 --hedge-ms p95 --idempotent
#          (heartbeats every 500 ms, fall 2 / rise 2 are the defaults; 2 retries)
# HAProxy: balance roundrobin, weights 5,1,1, check inter 500 fall 2 rise 2,
#          option httpchk GET /health, option redispatch, retries 2,
#          timeout connect 200ms / server 1000ms / client 5s; the client is a
#          single-endpoint harpc channel with --retries 0, so that only
#          HAProxy's mechanisms act.
#
# Each case starts fresh backends, runs a steady `harpc bench` for 5 s (the
# steady p99), then the event run with bench/failover/failover_load.cc (harpc
# bench's load loop, plus per-100 ms slots, the signals, and a 10 ms poll of
# the endpoint states: the loaded channel's Endpoints(), or HAProxy's
# `show stat`). bench/failover/report.py turns it into a markdown section,
# printed and written to bench/failover/RESULTS.md.
#
# Usage: bench/failover.sh            (needs haproxy: HARPC_SETUP_BENCH=1 scripts/setup)
# Env:   HARPC=build/harpc  BUILD_DIR=build  FAILOVER_OUT=bench/failover/RESULTS.md
#        FAILOVER_KEEP=1 keeps the raw outputs (their directory is printed).
# Runtime: about 110 s (plus about a minute the first time, to build the helper).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
build_dir=${BUILD_DIR:-build}
harpc=${HARPC:-$build_dir/harpc}
out_md=${FAILOVER_OUT:-$root/bench/failover/RESULTS.md}
python=/usr/bin/python3

concurrency=8
duration=12
steady=5
interval_ms=500
event_at=3
cont_at=7

command -v haproxy >/dev/null || { echo "failover.sh: haproxy not found (HARPC_SETUP_BENCH=1 scripts/setup)" >&2; exit 1; }

work=$(mktemp -d /tmp/harpc-failover.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${FAILOVER_KEEP:-0}" == 1 ]]; then
    echo "failover.sh: raw outputs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "failover.sh: $*" >&2; }

# --- binaries ------------------------------------------------------------------
if [[ ! -x $harpc ]]; then
  log "building $harpc"
  cmake --build "$build_dir" --target harpc >&2
fi

# Others may rebuild build/ while this runs: work on a copy of the binary.
for _ in 1 2 3 4 5; do
  cp "$harpc" "$work/harpc" 2>/dev/null && "$work/harpc" --help >/dev/null 2>&1 && break
  sleep 2
done
"$work/harpc" --help >/dev/null 2>&1 || { echo "failover.sh: cannot copy a working $harpc" >&2; exit 1; }
harpc_src=$harpc
harpc=$work/harpc

helper=""
if [[ -f $build_dir/build.ninja ]] && grep -q 'harpc_failover_load' "$build_dir/build.ninja"; then
  cmake --build "$build_dir" --target harpc_failover_load >&2
  [[ -x $build_dir/bench/failover/harpc_failover_load ]] && helper=$build_dir/bench/failover/harpc_failover_load
fi
if [[ -z $helper ]]; then
  # Not in the CMake build yet (bench/CMakeLists.txt lacks add_subdirectory(failover)):
  # build it by hand against the library of the normal build, when stale.
  helper=$build_dir/failover-helper/harpc_failover_load
  srcs=(bench/failover/failover_load.cc src/cli/load_generator.cc src/cli/channel_flags.cc)
  stale=0
  [[ -x $helper ]] || stale=1
  for f in "${srcs[@]}" src/cli/load_generator.h src/cli/channel_flags.h bench/failover.sh "$build_dir/libharpc.a"; do
    [[ $f -nt $helper ]] && stale=1
  done
  if [[ $stale == 1 ]]; then
    [[ -f $build_dir/libharpc.a ]] || cmake --build "$build_dir" --target harpc_lib >&2
    log "building $helper (about a minute)"
    mkdir -p "$(dirname "$helper")"
    cp "$build_dir/libharpc.a" "$work/libharpc.a"
    # The same spdlog/fmt mode as the library (compiled, shared), or the helper
    # would carry a second, header-only spdlog with a registry of its own.
    # shellcheck disable=SC2046
    g++ -std=c++20 -O2 -DBOOST_ASIO_NO_DEPRECATED -DBOOST_ASIO_HAS_CO_AWAIT -DBOOST_BEAST_USE_STD_STRING_VIEW \
      $(pkg-config --cflags spdlog) -I include -I src "${srcs[@]}" "$work/libharpc.a" \
      -lboost_json -lboost_url $(pkg-config --libs spdlog) -lsqlite3 -pthread -o "$helper.tmp"
    mv "$helper.tmp" "$helper"
  fi
fi

# --- helpers -------------------------------------------------------------------
# Starts `harpc serve`; sets $addr to its address and $pid to its PID (also in pids[]).
start_backend() {  # name
  local name=$1 out=$work/$1.out
  "$harpc" serve --listen 127.0.0.1:0 --threads 1 --name "$name" >"$out" 2>"$work/$name.err" &
  pid=$!
  pids+=("$pid")
  disown "$pid"  # no "Killed" job notice when it is SIGKILLed on purpose
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$out" 2>/dev/null; then
      addr=$(head -1 "$out" | awk '{print $3}')
      return 0
    fi
    sleep 0.05
  done
  log "backend $name did not start"; cat "$work/$name.err" >&2; return 1
}

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

haproxy_all_up() {  # socket
  "$python" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1]); s.sendall(b"show stat\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
except OSError:
    sys.exit(1)
rows = [l.split(",") for l in data.decode().splitlines() if l and not l.startswith("#")]
up = [r for r in rows if r[0] == "be" and r[1] not in ("BACKEND", "FRONTEND") and r[17] == "UP"]
sys.exit(0 if len(up) == 3 else 1)
EOF
}

stop_case_pids() {  # kills this case's processes (by PID) and forgets them
  for pid in "${case_pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    { wait "$pid"; } 2>/dev/null || true
  done
}

# run_case SIDE EVENT: SIDE harpc|haproxy, EVENT kill|stop
run_case() {
  local side=$1 event=$2 dir=$work/$1-$2
  mkdir -p "$dir"
  local before=${#pids[@]}
  local a b c victim
  start_backend "$side-$event-a"; a=$addr
  start_backend "$side-$event-b"; b=$addr; victim=$pid
  start_backend "$side-$event-c"; c=$addr

  local target opts=() watch=()
  if [[ $side == harpc ]]; then
    target="list://$a=5,$b=1,$c=1"
    opts=(--health-interval-ms "$interval_ms" --hedge-ms p95 --idempotent)
  else
    local port
    port=$(free_port)
    cat >"$dir/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096
  stats socket $dir/haproxy.sock mode 600 level admin
defaults
  mode http
  timeout connect 200ms
  timeout server 1000ms
  timeout client 5s
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /health
  server $a $a weight 5 check inter $interval_ms fall 2 rise 2
  server $b $b weight 1 check inter $interval_ms fall 2 rise 2
  server $c $c weight 1 check inter $interval_ms fall 2 rise 2
EOF
    haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
    pids+=($!)
    local ok=0
    for _ in $(seq 1 60); do
      if [[ -S $dir/haproxy.sock ]] && haproxy_all_up "$dir/haproxy.sock"; then ok=1; break; fi
      sleep 0.1
    done
    [[ $ok == 1 ]] || { log "haproxy did not come up"; cat "$dir/haproxy.log" >&2; return 1; }
    target="127.0.0.1:$port"
    opts=(--retries 0)
    watch=(--haproxy-stats "$dir/haproxy.sock" --haproxy-backend be)
  fi
  case_pids=("${pids[@]:$before}")

  local signals=() windows=(--window "pre:0.5:$event_at")
  if [[ $event == none ]]; then  # control: the same load and windows as kill, no fault
    windows+=(--window "event:$event_at:$((event_at + 2))" --window "after:$((event_at + 2)):$duration")
  elif [[ $event == kill ]]; then
    signals=(--signal "$victim:KILL:$event_at")
    windows+=(--window "event:$event_at:$((event_at + 2))" --window "after:$((event_at + 2)):$duration")
  else
    signals=(--signal "$victim:STOP:$event_at" --signal "$victim:CONT:$cont_at")
    windows+=(--window "event:$event_at:$((cont_at + 2))" --window "frozen:$event_at:$cont_at"
              --window "after:$((cont_at + 2)):$duration")
  fi

  local steady_cmd=("$harpc_src" bench "$target" --method / --data '{"key":"value"}' --concurrency "$concurrency"
                    --duration "$steady" --json "${opts[@]}")
  local event_cmd=("$helper" "$target" --method / --data '{"key":"value"}' --concurrency "$concurrency"
                   --duration "$duration" "${opts[@]}" "${watch[@]}" --tick-ms 100 --poll-ms 10
                   "${signals[@]}" "${windows[@]}")
  log "$side/$event: steady ${steady}s, then event run ${duration}s (victim $b, pid $victim)"
  {
    echo "side=$side"; echo "event=$event"; echo "victim=$b"; echo "target=$target"
    echo "steady_cmd=$(printf '%q ' "${steady_cmd[@]}")"; echo "event_cmd=$(printf '%q ' "${event_cmd[@]}")"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$dir/meta"
  timeout $((steady + 20)) "$harpc" "${steady_cmd[@]:1}" >"$dir/steady.json" 2>"$dir/steady.err"
  timeout $((duration + 30)) "${event_cmd[@]}" >"$dir/event.jsonl" 2>"$dir/event.err"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir/meta"
  stop_case_pids
}

# --- the four cases --------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus=$(nproc)"
  echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "haproxy=$(haproxy -v | head -1)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' (src/ has uncommitted changes)')"
} >"$work/machine"

for event in kill stop; do
  for side in harpc haproxy; do
    run_case "$side" "$event"
  done
done
# Control: harpc under the same load with no fault, to tell the failover's
# effects from what the channel and the box do anyway.
run_case harpc none

"$python" bench/failover/report.py "$work" | tee "$out_md"
log "wrote $out_md"
