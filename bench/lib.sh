# Shell functions the benchmark scripts share. The caller defines log, die,
# the array PIDS (children to stop on exit) and TMP (a scratch directory).

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
  if kill -0 "$pid" 2>/dev/null && [[ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ]]; then
    log "pid $pid ignored SIG$sig; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# free_port: a loopback port that was free a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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
