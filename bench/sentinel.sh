#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Sentinel benchmarks (loopback only; every process started here is killed by PID on exit):
#   1. kill -> out of every watcher's view: 3 sentinels (quorum 2, --down-after-ms 1000,
#      --probe-interval-ms 100), one `harpc serve` registered with all three (lease TTL 10 s,
#      so the lease cannot expire first), 5 clients long-polling Registry.watch (2/2/1 over the
#      sentinels), SIGKILL the server; 5 repetitions.
#   2. registry load: one sentinel (defaults: down-after 3000, probe 500 ms), 1,000 instances
#      (10 services x 100, distinct unused loopback ports: probes are refused, they go sdown/odown),
#      heartbeats 1,000/s spread evenly on 50 keep-alive connections, 100 watchers; 30 s window.
#   3. registration/deregistration -> watcher, sentinel (Registry.watch) vs etcd (v3 gateway watch
#      stream; lease grant + put, lease revoke); 20 repetitions each.
#   4. mass failure: 3 sentinels with every default (quorum 2, --down-after-ms 3000,
#      --probe-interval-ms 500, --notify appending to a file), 100 `harpc serve --register` (default
#      lease TTL 10 s) SIGKILLed at once -> every sentinel holds all of them odown; the elections
#      it took and the alerts told; 5 repetitions.
# Usage: bench/sentinel.sh     Env: HARPC=build/harpc  SENTINEL_OUT=bench/sentinel/RESULTS.md
#        SECTIONS="1 2 3 4" (those to run)  KILL_REPS=5 LOAD_SECONDS=30 PROP_REPS=20
#        MASS_N=100 MASS_REPS=5  SENTINEL_KEEP=1 (keep the raw outputs)
# Runtime: about 75 s for sections 1-3, 60 s for section 4.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
harpc=${HARPC:-$root/build/harpc}
out_md=${SENTINEL_OUT:-$root/bench/sentinel/RESULTS.md}
py=/usr/bin/python3
helper=$root/bench/sentinel/sentinel_bench.py
kill_reps=${KILL_REPS:-5}
load_s=${LOAD_SECONDS:-30}
prop_reps=${PROP_REPS:-20}
mass_n=${MASS_N:-100}
mass_reps=${MASS_REPS:-5}
sections=" ${SECTIONS:-1 2 3 4} "
want() { [[ $sections == *" $1 "* ]]; }
[ -x "$harpc" ] || { echo "sentinel.sh: $harpc missing (cmake --build build --target harpc)" >&2; exit 1; }

work=$(mktemp -d /tmp/harpc-sentinel.XXXXXX)
pids=()
groups=()  # process groups (setsid) of many instances
cleanup() {
  local rc=$?
  for g in "${groups[@]}"; do kill -9 -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -z "${SENTINEL_KEEP:-}" ]; then rm -rf "$work"; else echo "raw outputs in $work" >&2; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() { $py -c '
import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }

# wait_listen LOG -> prints H:P from the "listening on H:P" line (bounded: 10 s)
wait_listen() {
  local i
  for i in $(seq 100); do
    if grep -q '^listening on ' "$1" 2>/dev/null; then grep -m1 '^listening on ' "$1" | awk '{print $3}'; return 0; fi
    sleep 0.1
  done
  echo "sentinel.sh: no 'listening on' in $1" >&2; cat "$1" >&2; return 1
}

start_sentinel() { # NAME LISTEN ARGS...
  local name=$1 listen=$2; shift 2
  mkdir -p "$work/$name"
  "$harpc" sentinel --listen "$listen" --data-dir "$work/$name" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!); last_pid=$!
  wait_listen "$work/$name.log" >/dev/null
}

# start_group PREFIX ARGS...: three sentinels PREFIX0..2 that list each other as peers, each with ARGS
# (in which %i is its index); sets group_addrs (H:P,H:P,H:P) and group_pids.
start_group() {
  local prefix=$1 i peers ports addrs
  shift
  read -r -a ports < <(free_ports 3)
  addrs=(127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]} 127.0.0.1:${ports[2]})
  group_pids=()
  for i in 0 1 2; do
    peers=$(printf '%s\n' "${addrs[@]}" | grep -v "^${addrs[$i]}\$" | paste -sd,)
    start_sentinel "$prefix$i" "${addrs[$i]}" --peers "$peers" "${@//%i/$i}"
    group_pids+=($last_pid)
  done
  group_addrs=$(IFS=,; echo "${addrs[*]}")
}

cat /proc/loadavg >"$work/loadavg.start"
if want 1; then
echo "== 1. kill -> every client's view" >&2
start_group s --quorum 2 --down-after-ms 1000 --probe-interval-ms 100
sents=$group_addrs
: >"$work/kill.jsonl"
for r in $(seq "$kill_reps"); do
  "$harpc" serve --listen 127.0.0.1:0 --threads 1 --register "sentinel://$sents" --lease-ttl-ms 10000 \
      >"$work/serve$r.log" 2>&1 &
  spid=$!; pids+=($spid)
  addr=$(wait_listen "$work/serve$r.log")
  $py "$helper" kill --sentinels "$sents" --addr "$addr" --pid "$spid" --clients 5 | tee -a "$work/kill.jsonl" >&2
  wait "$spid" 2>/dev/null || true
done
for p in "${group_pids[@]}"; do kill "$p" 2>/dev/null || true; done
fi

if want 2; then
echo "== 2. registry load" >&2
start_sentinel load 127.0.0.1:0
lpid=$last_pid
laddr=$(wait_listen "$work/load.log")
$py "$helper" load --sentinel "$laddr" --pid "$lpid" --n 1000 --services 10 --watchers 100 \
    --duration "$load_s" | tee "$work/load.json" >&2
kill "$lpid" 2>/dev/null || true
fi

if want 3; then
echo "== 3. propagation: sentinel vs etcd" >&2
start_sentinel prop 127.0.0.1:0
paddr=$(wait_listen "$work/prop.log")
read -r e1 e2 < <(free_ports 2)
etcd --name b --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$e1" \
    --advertise-client-urls "http://127.0.0.1:$e1" --listen-peer-urls "http://127.0.0.1:$e2" \
    --initial-advertise-peer-urls "http://127.0.0.1:$e2" --initial-cluster "b=http://127.0.0.1:$e2" \
    >"$work/etcd.log" 2>&1 &
pids+=($!)
for i in $(seq 100); do
  curl -s --noproxy '*' -m 1 "http://127.0.0.1:$e1/health" 2>/dev/null | grep -q true && break
  sleep 0.1
done
$py "$helper" prop --sentinel "$paddr" --etcd "127.0.0.1:$e1" --reps "$prop_reps" | tee "$work/prop.json" >&2
fi

if want 4; then
echo "== 4. mass failure: $mass_n instances killed at once" >&2
start_group m --notify "cat >> $work/mass-alerts-%i.jsonl"
msents=$group_addrs
: >"$work/mass.jsonl"
for r in $(seq "$mass_reps"); do
  # The instances in a process group of their own (setsid), so that one kill(2) reaches all of them.
  setsid bash -c 'for k in $(seq "$1"); do "$2" serve --listen 127.0.0.1:0 --threads 1 --register "$3" >"$4-$k.log" 2>&1 & done; wait' \
      _ "$mass_n" "$harpc" "sentinel://$msents" "$work/mass$r" &
  group=$!
  groups+=($group)
  : >"$work/mass$r.instances"
  for k in $(seq "$mass_n"); do wait_listen "$work/mass$r-$k.log" >>"$work/mass$r.instances"; done
  $py "$helper" mass --sentinels "$msents" --instances "$work/mass$r.instances" --pgid "$group" \
      --alerts "$work/mass-alerts-0.jsonl,$work/mass-alerts-1.jsonl,$work/mass-alerts-2.jsonl" \
      | tee -a "$work/mass.jsonl" >&2
  { wait "$group"; } 2>/dev/null || true  # (no "Killed" line)
done
for p in "${group_pids[@]}"; do kill "$p" 2>/dev/null || true; done
fi

cat /proc/loadavg >"$work/loadavg.end"
$py "$root/bench/sentinel/report.py" "$work" "$harpc" "$(etcd --version | head -1)" >"$out_md.tmp"
mv "$out_md.tmp" "$out_md"
cat "$out_md"
