#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# What TLS costs harpc, next to its peers over TLS, in one run (`make bench-tls`).
# Server pinned to one core, load to the other, as in bench/run.sh; one
# certificate (P-256, IP SAN 127.0.0.1) for every server:
#   a) wrk -t1 -c50 POST /rpc over HTTPS: `harpc serve --threads 1` vs nginx
#      (ssl, one worker); harpc over plain HTTP in the same run for the cost.
#   b) closed-loop RPC, 16 B, concurrency 1 and 64: `harpc bench --tls-ca` ->
#      `harpc serve --tls-cert` vs the gRPC C++ async client -> server over
#      TLS; harpc plaintext in the same run for the cost.
#   c) handshakes: wrk with "Connection: close" over HTTPS (a new connection
#      and a full handshake per request): harpc vs nginx.
# Prints a markdown summary and writes it into docs/BENCHMARKS.md between the
# "tls results" markers.
#
# Environment (all optional): BUILD, WRK_DURATION=10, RPC_DURATION=5, ROUNDS=2,
# SERVER_CPU=0, LOAD_CPU=1, BENCH_OUT=docs/BENCHMARKS.md ("-" = print only),
# QUIET_WAIT=60, ROUND_QUIET_WAIT=5, KEEP_TMP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD="$ROOT/$BUILD"
WRK_DURATION=${WRK_DURATION:-10}
RPC_DURATION=${RPC_DURATION:-5}
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
IDLE_CONNS=1000  # nginx's worker_connections
BENCH_OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
HARPC="$BUILD/harpc"
GRPC_SERVER="$BUILD/bench/grpc/harpc_grpc_echo_server"
GRPC_CLIENT="$BUILD/bench/grpc/harpc_grpc_echo_client"

log() { echo "bench-tls: $*" >&2; }
die() { log "$*"; exit 1; }
. "$(dirname "$0")/lib.sh"

[[ -x "$HARPC" ]] || die "$HARPC not found: build first"
for tool in wrk openssl taskset python3; do command -v "$tool" >/dev/null || die "$tool is needed (HARPC_SETUP_BENCH=1 scripts/setup)"; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || die "nginx is needed (HARPC_SETUP_BENCH=1 scripts/setup)"
HAVE_GRPC=1
[[ -x "$GRPC_SERVER" && -x "$GRPC_CLIENT" ]] || { HAVE_GRPC=0; log "gRPC peer not built: its columns stay empty"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/harpc-bench-tls.XXXXXX")
RES="$TMP/results"
mkdir -p "$RES"
PIDS=()
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One CA and one server certificate for 127.0.0.1, as an operator would make them.
CERT="$TMP/cert.pem" KEY="$TMP/key.pem" CA="$TMP/ca.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" \
  -keyout "$TMP/ca-key.pem" -out "$CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=harpc" \
  -keyout "$KEY" -out "$TMP/cert.csr" 2>/dev/null
openssl x509 -req -in "$TMP/cert.csr" -CA "$CA" -CAkey "$TMP/ca-key.pem" -CAcreateserial -days 1 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n') \
  -out "$CERT" 2>/dev/null
cat "$CERT" "$CA" >"$TMP/chain.pem"  # nginx and gRPC send the chain as harpc does

QUIET_WAIT=${QUIET_WAIT:-60}
ROUND_QUIET_WAIT=${ROUND_QUIET_WAIT:-5}
wait_quiet "$QUIET_WAIT"
busy_start=$BUSY
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS

# ---- a) and c): wrk over HTTPS, keep-alive and one connection per request ------
start_server harpc_tls "$HARPC" serve --threads 1 --listen 127.0.0.1:0 --tls-cert "$CERT" --tls-key "$KEY"
TLS_PID=$SERVER_PID; TLS_PORT=$SERVER_PORT
start_server harpc_plain "$HARPC" serve --threads 1 --listen 127.0.0.1:0
PLAIN_PID=$SERVER_PID; PLAIN_PORT=$SERVER_PORT
start_nginx "$TMP/chain.pem" "$KEY"
for (( r = 1; r <= ROUNDS; r++ )); do
  wait_quiet "$ROUND_QUIET_WAIT"
  for side in $(round_order "$r" harpc nginx); do
    case $side in
      harpc) run_wrk "harpc_tls_r$r" "$TLS_PORT" "$TLS_PID" https
             run_wrk "harpc_plain_r$r" "$PLAIN_PORT" "$PLAIN_PID" http ;;
      nginx) run_wrk "nginx_tls_r$r" "$NGINX_PORT" "$NGINX_WORKER" https ;;
    esac
  done
  for side in $(round_order "$r" harpc nginx); do
    case $side in
      harpc) run_wrk "harpc_handshake_r$r" "$TLS_PORT" "$TLS_PID" https -H "Connection: close" ;;
      nginx) run_wrk "nginx_handshake_r$r" "$NGINX_PORT" "$NGINX_WORKER" https -H "Connection: close" ;;
    esac
  done
done
stop_pid "$NGINX_PID"; stop_pid "$NGINX_WORKER"

# ---- b) closed-loop RPC over TLS: harpc vs gRPC ----------------------------------
if (( HAVE_GRPC )); then
  start_server grpc_tls "$GRPC_SERVER" --listen 127.0.0.1:0 --threads 1 --tls-cert "$TMP/chain.pem" --tls-key "$KEY"
  GRPC_PID=$SERVER_PID; GRPC_PORT=$SERVER_PORT
fi
run_rpc() {  # run_rpc SIDE CONCURRENCY ROUND
  local side=$1 c=$2 r=$3 name="rpc_$1_$2_r$3" pid ticks ns cms
  log "rpc 16 B, concurrency $c, ${RPC_DURATION}s, round $r: $side"
  case $side in
    harpc_tls) pid=$TLS_PID ;;
    harpc_plain) pid=$PLAIN_PID ;;
    grpc_tls) pid=$GRPC_PID ;;
  esac
  ticks=$(cpu_ticks "$pid"); ns=$(date +%s%N); children_cpu_ms; cms=$CHILD_MS
  case $side in
    harpc_*)
      local port=$PLAIN_PORT tls=()
      [[ $side == harpc_tls ]] && { port=$TLS_PORT; tls=(--tls-ca "$CA"); }
      taskset -c "$LOAD_CPU" timeout $(( RPC_DURATION + 30 )) \
        "$HARPC" bench "127.0.0.1:$port" "${tls[@]}" --method Echo.echo --data '{"p":"xxxxxxxxxxxxxxxx"}' \
        --concurrency "$c" --duration "$RPC_DURATION" --retries 0 --json \
        >"$RES/$name.json" 2>"$TMP/$name.err" || log "harpc bench failed: $(head -c 300 "$TMP/$name.err")" ;;
    grpc_tls)
      taskset -c "$LOAD_CPU" timeout $(( RPC_DURATION + 30 )) \
        "$GRPC_CLIENT" "127.0.0.1:$GRPC_PORT" --tls-ca "$CA" --payload-bytes 16 \
        --concurrency "$c" --duration "$RPC_DURATION" --json \
        >"$RES/$name.json" 2>"$TMP/$name.err" || log "gRPC client failed: $(head -c 300 "$TMP/$name.err")" ;;
  esac
  server_share "$name" "$pid" "$ticks" "$ns"
  client_share "$name" "$cms" "$ns"
}
for c in 1 64; do
  for (( r = 1; r <= ROUNDS; r++ )); do
    wait_quiet "$ROUND_QUIET_WAIT"
    for side in $(round_order "$r" harpc_tls grpc_tls) harpc_plain; do
      [[ $side == grpc_tls ]] && (( ! HAVE_GRPC )) && continue
      run_rpc "$side" "$c" "$r"
    done
  done
done

cat >"$RES/meta.json" <<EOF
{"command": "make bench-tls  (= BUILD=${BUILD#"$ROOT"/} bench/tls.sh)",
 "date": "$started", "elapsed_s": $(( SECONDS - t0 )), "rounds": $ROUNDS,
 "busy_before": $busy_start, "load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "wrk_duration": $WRK_DURATION, "rpc_duration": $RPC_DURATION,
 "openssl": "$(openssl version | awk '{print $1, $2}')",
 "nginx": "$("$NGINX" -v 2>&1 | sed 's/.*: //')",
 "grpc": "$(pkg-config --modversion grpc++ 2>/dev/null || true)",
 "harpc": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"}
EOF
python3 "$ROOT/bench/tls_report.py" "$RES" "$BENCH_OUT"
