#!/usr/bin/env bash
# harpc benchmark suite (`make bench`). Compares harpc with its peers on this
# machine, in one run, with the server pinned to one core and the load generator
# to another:
#   a) wrk -t1 -c50, POST /rpc {"key":"value"}: `harpc serve --threads 1` vs nginx
#   b) closed-loop RPC, 16 B and 1 KiB payloads, concurrency 1 and 64:
#      `harpc bench` -> `harpc serve --threads 1` vs the gRPC C++ async client ->
#      the gRPC C++ async server (one completion-queue thread)
#   c) server memory per idle keep-alive connection at 10,000 connections:
#      harpc serve --threads 1 vs nginx (one worker)
# and prints a markdown summary, which it also writes into docs/BENCHMARKS.md
# between the "results" markers (the rest of that file is left as it is).
#
# Environment (all optional):
#   BUILD=build            build dir holding harpc and bench/grpc/*
#   WRK_DURATION=10        seconds per wrk run
#   RPC_DURATION=5         seconds per harpc bench / gRPC client run
#   ROUNDS=2               runs of each side per comparison, alternating order
#   IDLE_CONNS=10000       idle connections for the memory test
#   SERVER_CPU=0 LOAD_CPU=1  cores for the servers and the load generators
#   BENCH_OUT=docs/BENCHMARKS.md  where to write the results ("-" = print only)
#   QUIET_WAIT=60          wait up to this long for the machine to be < 25 % busy
#   ROUND_QUIET_WAIT=5     the same before each round
#   KEEP_TMP=1             keep the temp dir (raw results, server logs) for inspection
#
# Everything runs on 127.0.0.1; every process started here is stopped by PID on
# exit; every wait is bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD="$ROOT/$BUILD"
WRK_DURATION=${WRK_DURATION:-10}
RPC_DURATION=${RPC_DURATION:-5}
ROUNDS=${ROUNDS:-2}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BENCH_OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}

HARPC="$BUILD/harpc"
GRPC_SERVER="$BUILD/bench/grpc/harpc_grpc_echo_server"
GRPC_CLIENT="$BUILD/bench/grpc/harpc_grpc_echo_client"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
. "$(dirname "$0")/lib.sh"

[[ -x "$HARPC" ]] || die "$HARPC not found: build first (make build, or BUILD=dir)"
command -v python3 >/dev/null || die "python3 is needed"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
HAVE_WRK=1; command -v wrk >/dev/null || { HAVE_WRK=0; log "wrk not found: part a skipped (HARPC_SETUP_BENCH=1 scripts/setup)"; }
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n "$NGINX" ]] || log "nginx not found: the nginx columns are skipped"
HAVE_GRPC=1
[[ -x "$GRPC_SERVER" && -x "$GRPC_CLIENT" ]] || { HAVE_GRPC=0; log "gRPC peer not built: part b shows harpc only"; }

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
    grep -q '^ready' "$TMP/idle_$name.out" && break
    kill -0 "$helper" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^ready' "$TMP/idle_$name.out"; then
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
if (( HAVE_WRK )); then
  start_server harpc_a "$HARPC" serve --threads 1 --listen 127.0.0.1:0
  HARPC_A_PID=$SERVER_PID; HARPC_A_PORT=$SERVER_PORT
  [[ -n "$NGINX" ]] && start_nginx
  for (( r = 1; r <= ROUNDS; r++ )); do
    wait_quiet "$ROUND_QUIET_WAIT"
    for side in $(first_second "$r" harpc nginx); do
      case $side in
        harpc) run_wrk "harpc_r$r" "$HARPC_A_PORT" "$HARPC_A_PID" ;;
        nginx) [[ -n "$NGINX" ]] && run_wrk "nginx_r$r" "$NGINX_PORT" "$NGINX_WORKER" ;;
      esac
    done
  done
  stop_pid "$HARPC_A_PID"
  if [[ -n "$NGINX" ]]; then stop_pid "$NGINX_PID"; stop_pid "$NGINX_WORKER"; fi
fi

# ---- b) closed-loop RPC: harpc bench/serve vs gRPC C++ client/server -----------
run_rpc() {  # run_rpc SIDE SIZE CONCURRENCY ROUND
  local side=$1 size=$2 c=$3 r=$4 name="rpc_$1_$2_$3_r$4" pid ticks ns cms
  log "rpc ${size} B, concurrency $c, ${RPC_DURATION}s, round $r: $side"
  if [[ $side == harpc ]]; then pid=$HARPC_B_PID; else pid=$GRPC_PID; fi
  ticks=$(cpu_ticks "$pid"); ns=$(date +%s%N); children_cpu_ms; cms=$CHILD_MS
  if [[ $side == harpc ]]; then
    taskset -c "$LOAD_CPU" timeout $(( RPC_DURATION + 30 )) \
      "$HARPC" bench "127.0.0.1:$HARPC_B_PORT" --method Echo.echo --data "{\"p\":\"$(payload "$size")\"}" \
      --concurrency "$c" --duration "$RPC_DURATION" --retries 0 --json \
      >"$RES/$name.json" 2>"$TMP/$name.err" || log "harpc bench failed: $(head -c 300 "$TMP/$name.err")"
  else
    taskset -c "$LOAD_CPU" timeout $(( RPC_DURATION + 30 )) \
      "$GRPC_CLIENT" "127.0.0.1:$GRPC_PORT" --payload-bytes "$size" \
      --concurrency "$c" --duration "$RPC_DURATION" --json \
      >"$RES/$name.json" 2>"$TMP/$name.err" || log "gRPC client failed: $(head -c 300 "$TMP/$name.err")"
  fi
  server_share "$name" "$pid" "$ticks" "$ns"
  client_share "$name" "$cms" "$ns"
}

start_server harpc_b "$HARPC" serve --threads 1 --listen 127.0.0.1:0
HARPC_B_PID=$SERVER_PID; HARPC_B_PORT=$SERVER_PORT
if (( HAVE_GRPC )); then
  start_server grpc "$GRPC_SERVER" --listen 127.0.0.1:0 --threads 1
  GRPC_PID=$SERVER_PID; GRPC_PORT=$SERVER_PORT
fi
for size in 16 1024; do
  for c in 1 64; do
    for (( r = 1; r <= ROUNDS; r++ )); do
      wait_quiet "$ROUND_QUIET_WAIT"
      for side in $(first_second "$r" harpc grpc); do
        [[ $side == grpc ]] && (( ! HAVE_GRPC )) && continue
        run_rpc "$side" "$size" "$c" "$r"
      done
    done
  done
done
if (( HAVE_GRPC )); then stop_pid "$GRPC_PID"; fi
stop_pid "$HARPC_B_PID"

# ---- c) memory per idle keep-alive connection ----------------------------------
start_server harpc_c "$HARPC" serve --threads 1 --listen 127.0.0.1:0
HARPC_C_PID=$SERVER_PID
idle_memory harpc "$HARPC_C_PID" "$SERVER_PORT"
stop_pid "$HARPC_C_PID"
if [[ -n "$NGINX" ]]; then
  start_nginx
  idle_memory nginx "$NGINX_WORKER" "$NGINX_PORT"
  stop_pid "$NGINX_PID"; stop_pid "$NGINX_WORKER"
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
 "nginx": "$([[ -n "$NGINX" ]] && "$NGINX" -v 2>&1 | sed 's/.*: //')",
 "wrk": "$(command -v wrk >/dev/null && wrk -v 2>&1 | head -1 | awk '{print $1, $2}')",
 "grpc": "$(pkg-config --modversion grpc++ 2>/dev/null || true)",
 "harpc": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) (binary built $(date -u -r "$HARPC" '+%Y-%m-%d %H:%M UTC'))"}
EOF
python3 "$ROOT/bench/report.py" "$RES" "$BENCH_OUT"
