#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# harpc benchmark suite (`make bench`). Compares harpc with its peers on this
# machine, in one run:
#   a) wrk -t1 -c50, POST /rpc {"key":"value"}: `harpc serve --threads 1` vs nginx
#      (one worker), server pinned to SERVER_CPU and wrk to LOAD_CPU
#   b) closed-loop RPC echo, payloads 16 B, 1 KiB and 16 KiB, 1, 64 and 256 callers
#      from one client process: `harpc bench` -> `harpc serve` vs bRPC's
#      echo_client -> echo_server (prebuilt, BRPC_DIR) vs the gRPC C++ async
#      client -> async server (bench/grpc), in two modes:
#        pinned:   server on SERVER_CPU with one event loop (harpc --threads 1,
#                  gRPC one completion queue, bRPC its default workers confined
#                  to that core), client on LOAD_CPU
#        unpinned: servers and clients free on both cores; harpc --threads 2
#                  (and harpc bench --threads 2 when there are 2 callers or more),
#                  gRPC two completion queues (its client one), bRPC its default workers
#   c) server memory per idle keep-alive connection at 10,000 connections:
#      harpc serve --threads 1 vs nginx (one worker)
# and prints a markdown summary, which it also writes into docs/BENCHMARKS.md
# between the "results" markers (the rest of that file is left as it is).
# A peer that is missing (nginx, wrk, the gRPC build, the bRPC folder) shows
# "n/a" in its columns.
#
# Environment (all optional; the defaults take about 9 minutes on an idle machine,
# up to ~13 when it waits for other jobs):
#   BUILD=build            build dir holding harpc and bench/grpc/*
#   BRPC_DIR=../shared/peers/brpc  (from the repo root) the prebuilt bRPC peer
#   HARPC_CLIENT_FLAGS="--pipeline-depth 16"  channel flags of `harpc bench` in part b:
#                          calls share 4 connections with HTTP/1.1 pipelining
#                          (docs/client.md), as bRPC's calls share one connection
#                          and gRPC's are streams of one HTTP/2 connection
#   BENCH_ONLY=            run only these parts (space or comma separated):
#                          wrk, pinned, unpinned, memory; e.g. BENCH_ONLY=pinned
#   RPC_PAYLOADS="16 1024 16384"  payload bytes of part b
#   RPC_CALLERS="1 64 256"        callers (calls in flight) of part b
#   WRK_DURATION=10        seconds per wrk run
#   RPC_DURATION=4         seconds per RPC client run (whole seconds: bRPC's client)
#   ROUNDS=2               runs of each side per comparison, rotating the order
#   IDLE_CONNS=10000       idle connections for the memory test
#   SERVER_CPU=0 LOAD_CPU=1  cores for the servers and the load generators
#   BENCH_OUT=docs/BENCHMARKS.md  where to write the results ("-" = print only;
#                          the default is "-" when BENCH_ONLY, RPC_PAYLOADS or
#                          RPC_CALLERS narrow the run, so a partial run never
#                          replaces the full results)
#   QUIET_WAIT=60          wait up to this long for the machine to be < 25 % busy
#   ROUND_QUIET_WAIT=5     the same before each round
#   KEEP_TMP=1             keep the temp dir (raw results, server logs) for inspection
# Every column in about two minutes: RPC_DURATION=1 ROUNDS=1 WRK_DURATION=2 IDLE_CONNS=500 bench/run.sh
#
# Everything runs on 127.0.0.1; every process started here is stopped by PID on
# exit; every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD="$ROOT/$BUILD"
WRK_DURATION=${WRK_DURATION:-10}
RPC_DURATION=${RPC_DURATION:-4}
ROUNDS=${ROUNDS:-2}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BRPC_DIR=${BRPC_DIR:-$ROOT/../shared/peers/brpc}
RPC_PAYLOADS=${RPC_PAYLOADS:-16 1024 16384}
RPC_CALLERS=${RPC_CALLERS:-1 64 256}
HARPC_CLIENT_FLAGS=${HARPC_CLIENT_FLAGS---pipeline-depth 16}
PARTS=$(echo "${BENCH_ONLY:-wrk pinned unpinned memory}" | tr ',' ' ' | xargs)
if [[ -n "${BENCH_ONLY:-}" || "$RPC_PAYLOADS" != "16 1024 16384" || "$RPC_CALLERS" != "1 64 256" ]]; then
  BENCH_OUT=${BENCH_OUT:--}  # a partial run: print only, unless told where to write
fi
BENCH_OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}

HARPC="$BUILD/harpc"
GRPC_SERVER="$BUILD/bench/grpc/harpc_grpc_echo_server"
GRPC_CLIENT="$BUILD/bench/grpc/harpc_grpc_echo_client"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
. "$(dirname "$0")/lib.sh"
wants() { [[ " $PARTS " == *" $1 "* ]]; }  # wants PART: is PART in this run?

for part in $PARTS; do
  [[ " wrk pinned unpinned memory " == *" $part "* ]] || die "BENCH_ONLY: unknown part '$part' (wrk, pinned, unpinned, memory)"
done
for n in $RPC_DURATION $ROUNDS $RPC_PAYLOADS $RPC_CALLERS; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "RPC_DURATION, ROUNDS, RPC_PAYLOADS and RPC_CALLERS take whole numbers >= 1, not '$n'"
done

[[ -x "$HARPC" ]] || die "$HARPC not found: build first (make build, or BUILD=dir)"
command -v python3 >/dev/null || die "python3 is needed"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
HAVE_WRK=1; command -v wrk >/dev/null || { HAVE_WRK=0; log "wrk not found: part a skipped (HARPC_SETUP_BENCH=1 scripts/setup)"; }
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n "$NGINX" ]] || log "nginx not found: the nginx columns are skipped"
HAVE_GRPC=1
[[ -x "$GRPC_SERVER" && -x "$GRPC_CLIENT" ]] || { HAVE_GRPC=0; log "gRPC peer not built: its columns show n/a"; }
HAVE_BRPC=0
if [[ ! -x "$BRPC_DIR/echo_server" || ! -x "$BRPC_DIR/echo_client" ]]; then
  log "bRPC peer not found in $BRPC_DIR (set BRPC_DIR): its columns show n/a"
elif ! "$BRPC_DIR/echo_server" --version >/dev/null 2>&1 || ! "$BRPC_DIR/echo_client" --version >/dev/null 2>&1; then
  log "bRPC peer in $BRPC_DIR does not run (runtime packages: HARPC_SETUP_BENCH=1 scripts/setup): its columns show n/a"
else
  HAVE_BRPC=1
fi

# 10,000 idle connections need more than the default 1,024 open files, in the
# server and in the helper that holds the client ends.
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited ]] || (( hard >= 20000 )); then ulimit -Sn 20000; else ulimit -Sn "$hard"; fi
if (( $(ulimit -Sn) < IDLE_CONNS + 100 )); then
  IDLE_CONNS=$(( $(ulimit -Sn) - 100 ))
  log "open-files limit $(ulimit -Sn): memory test uses $IDLE_CONNS connections"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/harpc-bench.XXXXXX")
RES="$TMP/results"
mkdir -p "$RES"
PIDS=()


cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done  # nginx masters come before their workers
  if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# idle_memory NAME PID PORT: RSS of PID before and after IDLE_CONNS idle keep-alive
# connections, held by bench/idle_conns.py (pinned to LOAD_CPU).
idle_memory() {
  local name=$1 pid=$2 port=$3 before after helper i
  # Warm up: one connection, one request, closed, so one-time lazy
  # initialisation is not charged to the connections.
  timeout 30 python3 "$ROOT/bench/idle_conns.py" 127.0.0.1 "$port" 1 --hold 0 >/dev/null
  sleep 0.5
  before=$(rss_kib "$pid")
  log "memory: $IDLE_CONNS idle keep-alive connections -> $name (RSS before ${before} KiB)"
  taskset -c "$LOAD_CPU" python3 "$ROOT/bench/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" --hold 120 \
    >"$TMP/idle_$name.out" 2>"$TMP/idle_$name.err" &
  helper=$!
  PIDS+=("$helper")
  for (( i = 0; i < 600; i++ )); do
    grep -qs '^ready' "$TMP/idle_$name.out" && break
    kill -0 "$helper" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -qs '^ready' "$TMP/idle_$name.out"; then
    cat "$TMP/idle_$name.err" >&2
    log "memory test against $name failed"
    stop_pid "$helper"
    return 0
  fi
  sleep 1  # let the server settle (idle connections release their buffers)
  after=$(rss_kib "$pid")
  stop_pid "$helper"
  log "memory: $name RSS after ${after} KiB"
  printf '{"connections":%d,"rss_before_kib":%d,"rss_after_kib":%d}\n' \
    "$IDLE_CONNS" "$before" "$after" >"$RES/mem_$name.json"
}

ROUND_QUIET_WAIT=${ROUND_QUIET_WAIT:-5}
# Wait (at most QUIET_WAIT s) for the machine to be mostly idle before measuring.
QUIET_WAIT=${QUIET_WAIT:-60}
wait_quiet "$QUIET_WAIT"
busy_start=$BUSY
log "machine ${busy_start}% busy before the run"

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS

# ---- a) wrk: harpc serve --threads 1 vs nginx ---------------------------------
if wants wrk && (( HAVE_WRK )); then
  start_server harpc_a "$HARPC" serve --threads 1 --listen 127.0.0.1:0
  HARPC_A_PID=$SERVER_PID; HARPC_A_PORT=$SERVER_PORT
  [[ -n "$NGINX" ]] && start_nginx
  for (( r = 1; r <= ROUNDS; r++ )); do
    wait_quiet "$ROUND_QUIET_WAIT"
    for side in $(round_order "$r" harpc nginx); do
      case $side in
        harpc) run_wrk "harpc_r$r" "$HARPC_A_PORT" "$HARPC_A_PID" ;;
        nginx) [[ -n "$NGINX" ]] && run_wrk "nginx_r$r" "$NGINX_PORT" "$NGINX_WORKER" ;;
      esac
    done
  done
  stop_pid "$HARPC_A_PID"
  if [[ -n "$NGINX" ]]; then stop_pid "$NGINX_PID"; stop_pid "$NGINX_WORKER"; fi
fi

# ---- b) closed-loop RPC: harpc vs bRPC vs gRPC, pinned and unpinned -------------
# run_rpc MODE SIDE SIZE CALLERS ROUND: one client run of SIDE against its server
# of this MODE; results in rpc_MODE_SIDE_SIZE_CALLERS_rROUND.json (the schema of
# `harpc bench --json`) and its cpu_ file.
run_rpc() {
  local mode=$1 side=$2 size=$3 c=$4 r=$5 pid ticks ns cms
  local name="rpc_${1}_${2}_${3}_${4}_r${5}" limit=$(( RPC_DURATION + 30 ))
  log "rpc $mode, ${size} B, $c callers, ${RPC_DURATION}s, round $r: $side"
  case $side in harpc) pid=$HARPC_PID ;; brpc) pid=$BRPC_PID ;; grpc) pid=$GRPC_PID ;; esac
  ticks=$(cpu_ticks "$pid"); ns=$(date +%s%N); children_cpu_ms; cms=$CHILD_MS
  case $side in
    harpc)
      taskset -c "$CLIENT_CPUS" timeout "$limit" \
        "$HARPC" bench "127.0.0.1:$HARPC_PORT" --method Echo.echo --data "{\"p\":\"$(payload "$size")\"}" \
        --concurrency "$c" --threads "$(( c < threads ? c : threads ))" --duration "$RPC_DURATION" --retries 0 \
        $HARPC_CLIENT_FLAGS --json \
        >"$RES/$name.json" 2>"$TMP/$name.err" || log "harpc bench failed: $(head -c 300 "$TMP/$name.err")" ;;
    brpc)
      # One caller is one pthread; more are bthreads (README.md in BRPC_DIR).
      # Deadline and retries as harpc bench's: 1 s, none.
      taskset -c "$CLIENT_CPUS" timeout "$limit" \
        "$TMP/brpc/echo_client" -server="127.0.0.1:$BRPC_PORT" -request_size="$size" \
        -thread_num="$c" -use_bthread="$( (( c > 1 )) && echo true || echo false)" \
        -warmup=0 -duration="$RPC_DURATION" -timeout_ms=1000 -max_retry=0 \
        >"$TMP/$name.out" 2>"$TMP/$name.err" || log "bRPC echo_client failed: $(tail -c 300 "$TMP/$name.err")"
      brpc_json <"$TMP/$name.out" >"$RES/$name.json" ;;
    grpc)
      taskset -c "$CLIENT_CPUS" timeout "$limit" \
        "$GRPC_CLIENT" "127.0.0.1:$GRPC_PORT" --payload-bytes "$size" \
        --concurrency "$c" --duration "$RPC_DURATION" --json \
        >"$RES/$name.json" 2>"$TMP/$name.err" || log "gRPC client failed: $(head -c 300 "$TMP/$name.err")" ;;
  esac
  server_share "$name" "$pid" "$ticks" "$ns"
  client_share "$name" "$cms" "$ns"
}

RPC_SIDES="harpc"
(( HAVE_BRPC )) && RPC_SIDES+=" brpc"
(( HAVE_GRPC )) && RPC_SIDES+=" grpc"
for mode in pinned unpinned; do
  wants "$mode" || continue
  if [[ $mode == pinned ]]; then
    SERVER_CPUS=$SERVER_CPU CLIENT_CPUS=$LOAD_CPU threads=1
  else
    SERVER_CPUS="$SERVER_CPU,$LOAD_CPU" CLIENT_CPUS="$SERVER_CPU,$LOAD_CPU" threads=2
  fi
  start_daemon "harpc_$mode" taskset -c "$SERVER_CPUS" "$HARPC" serve --threads "$threads" --listen 127.0.0.1:0
  HARPC_PID=$DAEMON_PID; HARPC_PORT=${DAEMON_ADDR##*:}
  if (( HAVE_BRPC )); then start_brpc "brpc_$mode" "$SERVER_CPUS"; fi
  if (( HAVE_GRPC )); then
    start_daemon "grpc_$mode" taskset -c "$SERVER_CPUS" "$GRPC_SERVER" --listen 127.0.0.1:0 --threads "$threads"
    GRPC_PID=$DAEMON_PID; GRPC_PORT=${DAEMON_ADDR##*:}
  fi
  for size in $RPC_PAYLOADS; do
    for c in $RPC_CALLERS; do
      for (( r = 1; r <= ROUNDS; r++ )); do
        wait_quiet "$ROUND_QUIET_WAIT"
        # shellcheck disable=SC2086  # RPC_SIDES is a list of words
        for side in $(round_order "$r" $RPC_SIDES); do
          run_rpc "$mode" "$side" "$size" "$c" "$r"
        done
      done
    done
  done
  if (( HAVE_GRPC )); then stop_pid "$GRPC_PID"; fi
  if (( HAVE_BRPC )); then stop_pid "$BRPC_PID" INT; fi  # bRPC quits on SIGINT
  stop_pid "$HARPC_PID"
done

# ---- c) memory per idle keep-alive connection ----------------------------------
if wants memory; then
  start_server harpc_c "$HARPC" serve --threads 1 --listen 127.0.0.1:0
  HARPC_C_PID=$SERVER_PID
  idle_memory harpc "$HARPC_C_PID" "$SERVER_PORT"
  stop_pid "$HARPC_C_PID"
  if [[ -n "$NGINX" ]]; then
    start_nginx
    idle_memory nginx "$NGINX_WORKER" "$NGINX_PORT"
    stop_pid "$NGINX_PID"; stop_pid "$NGINX_WORKER"
  fi
fi

# ---- report --------------------------------------------------------------------
cat >"$RES/meta.json" <<EOF
{"command": "make bench  (= BUILD=${BUILD#"$ROOT"/} bench/run.sh)",
 "date": "$started",
 "elapsed_s": $(( SECONDS - t0 )),
 "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)",
 "cores": $(nproc),
 "kernel": "$(uname -r)",
 "load_before": "$load_before",
 "busy_before": $busy_start,
 "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "server_cpu": $SERVER_CPU, "load_cpu": $LOAD_CPU,
 "wrk_duration": $WRK_DURATION, "rpc_duration": $RPC_DURATION, "rounds": $ROUNDS,
 "parts": "$PARTS",
 "harpc_client_flags": "$HARPC_CLIENT_FLAGS",
 "rpc_payloads": [$(echo $RPC_PAYLOADS | tr ' ' ',')], "rpc_callers": [$(echo $RPC_CALLERS | tr ' ' ',')],
 "brpc": "$( (( HAVE_BRPC )) && tr '\n' ' ' <"$BRPC_DIR/README.md" | sed -n 's/.*commit \([0-9a-f]\{12\}\)[0-9a-f]* (\([^)]*\)).*/\2, commit \1/p')",
 "nginx": "$([[ -n "$NGINX" ]] && "$NGINX" -v 2>&1 | sed 's/.*: //')",
 "wrk": "$(command -v wrk >/dev/null && wrk -v 2>&1 | head -1 | awk '{print $1, $2}')",
 "grpc": "$(pkg-config --modversion grpc++ 2>/dev/null || true)",
 "harpc": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) (binary built $(date -u -r "$HARPC" '+%Y-%m-%d %H:%M UTC'))"}
EOF
python3 "$ROOT/bench/report.py" "$RES" "$BENCH_OUT"
