# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Shell functions the benchmark scripts share. The caller defines log, die,
# the array PIDS (children to stop on exit), TMP (a scratch directory), RES
# (where results go as JSON), ROOT, and the knobs the functions name
# (SERVER_CPU, LOAD_CPU, WRK_DURATION, IDLE_CONNS, NGINX, BRPC_DIR).

# stop_pid PID [SIGNAL]: SIGNAL (default TERM), wait up to 15 s, then SIGKILL;
# reaps it and forgets it (so cleanup never signals a PID the system reused).
stop_pid() {
  local pid=$1 sig=${2:-TERM} i state
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -"$sig" "$pid" 2>/dev/null || true
  for (( i = 0; i < 150; i++ )); do
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -z "$state" || "$state" == Z ]] && break
    sleep 0.1
  done
  # Still there and not a zombie. (kill -0 alone is not enough: it was seen to
  # succeed for a bRPC server whose /proc entry was already gone.)
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  if [[ -n "$state" && "$state" != Z ]]; then
    log "pid $pid ignored SIG$sig; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# free_port: a loopback port that was free a moment ago, below the kernel's
# ephemeral range (src/util/free_port.h says why: a port from that range may
# be taken by an outgoing connection, such as group members dialling each
# other, before the daemon binds it).
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(100):
    port = random.randint(10000, low - 1) if low > 10001 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}

# start_daemon NAME CMD...: starts CMD, waits (<= 10 s) for its "listening on H:P"
# line; sets DAEMON_PID and DAEMON_ADDR.
start_daemon() {
  local name=$1 i
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  DAEMON_ADDR=
  for (( i = 0; i < 100; i++ )); do
    DAEMON_ADDR=$(sed -n '1s/^listening on \(.*:[0-9][0-9]*\)$/\1/p' "$TMP/$name.out" 2>/dev/null || true)
    [[ -n "$DAEMON_ADDR" ]] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$TMP/$name.err" >&2
  die "$name did not start"
}

# start_server NAME CMD...: starts CMD pinned to SERVER_CPU, waits (<= 10 s) for
# its "listening on H:P" line; sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1
  shift
  start_daemon "$name" taskset -c "$SERVER_CPU" "$@"
  SERVER_PID=$DAEMON_PID
  SERVER_PORT=${DAEMON_ADDR##*:}
}


# start_nginx [CERT KEY]: nginx with one worker returning {"key":"value"}, over
# HTTPS with CERT and KEY when given; sets NGINX_PID (the master), NGINX_WORKER
# and NGINX_PORT.
start_nginx() {
  local dir="$TMP/nginx" i
  mkdir -p "$dir"
  NGINX_PORT=$(free_port)
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 20000;
events {
  worker_connections $(( IDLE_CONNS + 240 ));
}
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$NGINX_PORT${1:+ ssl};
${1:+    ssl_certificate $1;
    ssl_certificate_key $2;
    ssl_protocols TLSv1.2 TLSv1.3;}
    default_type application/json;
    location / {
      return 200 '{"key":"value"}';
    }
  }
}
EOF
  taskset -c "$SERVER_CPU" "$NGINX" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
    >"$dir/stdout" 2>"$dir/stderr" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  NGINX_WORKER=
  for (( i = 0; i < 100; i++ )); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null; then
      NGINX_WORKER=$(cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null | awk '{print $1}')
      [[ -n "$NGINX_WORKER" ]] && { PIDS+=("$NGINX_WORKER"); return 0; }
    fi
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/stderr" "$dir/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
}

# start_brpc NAME CPUS: bRPC's prebuilt echo_server (README.md in BRPC_DIR) on CPUS with
# its default bthread workers, run from a copy of BRPC_DIR because it loads
# cert.pem and key.pem from its working directory; sets BRPC_PID and BRPC_PORT.
start_brpc() {
  local dir="$TMP/brpc" i
  [[ -d "$dir" ]] || cp -r "$BRPC_DIR/." "$dir"
  BRPC_PORT=$(free_port)
  (cd "$dir" && exec taskset -c "$2" ./echo_server -port="$BRPC_PORT") >"$TMP/$1.out" 2>"$TMP/$1.err" &
  BRPC_PID=$!
  PIDS+=("$BRPC_PID")
  for (( i = 0; i < 100; i++ )); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BRPC_PORT") 2>/dev/null && return 0
    kill -0 "$BRPC_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$TMP/$1.err" >&2
  die "bRPC echo_server did not start"
}

# brpc_json: turns bRPC echo_client's summary line on stdin
# ("qps=... p50_us=... p99_us=... errors=... p999_us=... calls=... secs=...") into
# the JSON of `harpc bench --json`: qps counts every call as harpc's does, ok or
# not (bRPC's own qps= counts the successful ones), latencies in ms. Prints
# nothing when the line is missing.
brpc_json() {
  awk '/^qps=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    n = v["calls"] + v["errors"]
    printf "{\"requests\":%d,\"ok\":%d,\"errors\":%d,\"qps\":%.1f,", n, v["calls"], v["errors"], (v["secs"] > 0 ? n / v["secs"] : 0)
    printf "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f}}\n", v["p50_us"] / 1000, v["p99_us"] / 1000, v["p999_us"] / 1000
  }'
}

# cpu_ticks PID: user + system CPU time of PID (all its threads), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
# server_share NAME PID TICKS_BEFORE NS_BEFORE: writes cpu_NAME.json with the share
# of one core the server used during the run, in %. A saturated server that got
# much less than 100 % lost its core to other jobs (or its client was the limit).
server_share() {
  local ticks_after ns_after
  ticks_after=$(cpu_ticks "$2"); ns_after=$(date +%s%N)
  awk -v t="$(( ticks_after - $3 ))" -v ns="$(( ns_after - $4 ))" -v hz="$CLK_TCK" \
    'BEGIN { pct = 0; if (ns > 0) pct = 100 * t / hz / (ns / 1e9); printf "{\"server_cpu_pct\":%.0f}\n", pct }' \
    >"$RES/cpu_$1.json"
}

# children_cpu_ms: sets CHILD_MS to the user + system CPU of this shell's finished
# children so far, in ms (getrusage(RUSAGE_CHILDREN) via the `times` builtin, so it
# must run in this shell, never in $(...)).
children_cpu_ms() {
  times >"$TMP/times"
  CHILD_MS=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, k, /[ms]/);
                            printf "%d", (u[1] * 60 + u[2] + k[1] * 60 + k[2]) * 1000 }' "$TMP/times")
}
# client_share NAME MS_BEFORE NS_BEFORE: adds the load generator's share of its core
# (in %) to cpu_NAME.json. Near 100 % means the client, not the server, was the limit.
client_share() {
  local ms_after ns_after
  children_cpu_ms; ms_after=$CHILD_MS; ns_after=$(date +%s%N)
  python3 - "$RES/cpu_$1.json" "$(( ms_after - $2 ))" "$(( ns_after - $3 ))" <<'PY'
import json, sys
path, ms, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    d = json.load(open(path))
except (OSError, ValueError):
    d = {}
d["client_cpu_pct"] = round(100 * ms / (ns / 1e6)) if ns > 0 else 0
json.dump(d, open(path, "w"))
PY
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run_wrk NAME PORT SERVER_PID [SCHEME [WRK_ARGS...]]: wrk -t1 -c50 POST /rpc
# pinned to LOAD_CPU; results in $RES/wrk_NAME.json and cpu_wrk_NAME.json.
run_wrk() {
  local scheme=${4:-http}
  local ticks ns cms
  log "wrk -t1 -c50 -d${WRK_DURATION}s -> ${1%_r*}, round ${1##*_r}"
  ticks=$(cpu_ticks "$3"); ns=$(date +%s%N); children_cpu_ms; cms=$CHILD_MS
  taskset -c "$LOAD_CPU" timeout $(( WRK_DURATION + 30 )) \
    wrk -t1 -c50 -d"${WRK_DURATION}s" "${@:5}" -s "$ROOT/bench/wrk_post.lua" "$scheme://127.0.0.1:$2/rpc" \
    >"$TMP/wrk_$1.txt" 2>&1 || true
  server_share "wrk_$1" "$3" "$ticks" "$ns"
  client_share "wrk_$1" "$cms" "$ns"
  sed -n 's/^WRK_JSON //p' "$TMP/wrk_$1.txt" >"$RES/wrk_$1.json"
  if ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$RES/wrk_$1.json" 2>/dev/null; then
    cat "$TMP/wrk_$1.txt" >&2
    log "wrk against $1 failed"
  fi
}

payload() { head -c "$1" /dev/zero | tr '\0' x; }

# busy_percent: how busy both cores are over 1 s, in % (other jobs share this machine).
busy_percent() {
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    t = y[2] - x[2]; pct = 0; if (t > 0) pct = 100 * (y[1] - x[1]) / t; printf "%d", pct }'
}
# wait_quiet MAX_S: waits (at most MAX_S s) for the machine to be < 25 % busy;
# sets BUSY to the last figure. Called before the run and before every round.
wait_quiet() {
  local waited
  BUSY=$(busy_percent)
  for (( waited = 1; BUSY > 25 && waited < $1; waited += 3 )); do
    sleep 2
    BUSY=$(busy_percent)
  done
  (( BUSY <= 25 )) || log "machine still ${BUSY}% busy with other jobs; measuring anyway"
}

# Each comparison runs ROUNDS times, rotating which side goes first (AB BA ...,
# ABC BCA CAB ...), so that a burst of load from other jobs on this shared
# machine hits every side alike; the report shows every round and compares the
# best round of each side (interference only ever lowers throughput).
round_order() {  # round_order ROUND SIDE...: the sides rotated left by ROUND - 1
  local r=$1
  shift
  local sides=("$@") n=$# i
  for (( i = 0; i < n; i++ )); do printf '%s ' "${sides[(i + r - 1) % n]}"; done
  echo
}
