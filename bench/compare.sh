#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Before/after: two harpc binaries measured side by side in one run, each as
# its own client and server (`harpc bench` -> `harpc serve --threads 1`), the
# server pinned to one core and the load to the other, rounds alternating so
# that drift in the machine's speed hits both alike. For refactors that must not
# cost speed: compare the ratio, not the absolute numbers.
#
#   bench/compare.sh OLD_HARPC NEW_HARPC
#
# Environment (all optional):
#   RPC_DURATION=5   seconds per harpc bench run
#   WRK_DURATION=5   seconds per wrk run (skipped without wrk)
#   ROUNDS=2         runs of each binary per cell
#   SERVER_CPU=0 LOAD_CPU=1
# Prints a markdown table. Everything runs on 127.0.0.1; every process started
# here is stopped by PID on exit; every wait is bounded.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 OLD_HARPC NEW_HARPC" >&2; exit 2; }
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RPC_DURATION=${RPC_DURATION:-5}
WRK_DURATION=${WRK_DURATION:-5}
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 1; }
. "$ROOT/bench/lib.sh"
[[ -x "$OLD" && -x "$NEW" ]] || die "both binaries must exist and be executable"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/harpc-compare.XXXXXX")
PIDS=()
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

start_daemon old_server taskset -c "$SERVER_CPU" "$OLD" serve --threads 1 --listen 127.0.0.1:0
OLD_ADDR=$DAEMON_ADDR
start_daemon new_server taskset -c "$SERVER_CPU" "$NEW" serve --threads 1 --listen 127.0.0.1:0
NEW_ADDR=$DAEMON_ADDR

payload() { head -c "$1" /dev/zero | tr '\0' 'x'; }

# rpc SIDE SIZE CONCURRENCY ROUND: one harpc bench run, its JSON kept.
rpc() {
  local side=$1 size=$2 c=$3 r=$4 bin addr
  if [[ $side == old ]]; then bin=$OLD; addr=$OLD_ADDR; else bin=$NEW; addr=$NEW_ADDR; fi
  log "rpc $side ${size} B, concurrency $c, round $r"
  taskset -c "$LOAD_CPU" timeout $(( RPC_DURATION + 30 )) \
    "$bin" bench "$addr" --method Echo.echo --data "{\"p\":\"$(payload "$size")\"}" \
    --concurrency "$c" --duration "$RPC_DURATION" --retries 0 --json \
    >"$TMP/rpc_${side}_${size}_${c}_r$r.json" 2>"$TMP/err" || log "bench failed: $(head -c 300 "$TMP/err")"
}

wrk_run() {  # wrk_run SIDE ROUND
  local addr
  if [[ $1 == old ]]; then addr=$OLD_ADDR; else addr=$NEW_ADDR; fi
  log "wrk $1, round $2"
  taskset -c "$LOAD_CPU" timeout $(( WRK_DURATION + 30 )) \
    wrk -t1 -c50 -d"${WRK_DURATION}s" -s "$ROOT/bench/wrk_post.lua" "http://$addr/rpc" \
    >"$TMP/wrk_$1_r$2.txt" 2>&1 || true
}

for (( r = 1; r <= ROUNDS; r++ )); do
  # Alternate which side goes first in each round.
  if (( r % 2 )); then order="old new"; else order="new old"; fi
  for size in 16 1024; do
    for c in 1 64; do
      for side in $order; do rpc "$side" "$size" "$c" "$r"; done
    done
  done
  if command -v wrk >/dev/null; then
    for side in $order; do wrk_run "$side" "$r"; done
  fi
done

/usr/bin/python3 - "$TMP" "$ROUNDS" <<'PY'
import glob, json, os, re, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def runs(side, size, c):
    out = []
    for r in range(1, rounds + 1):
        try:
            out.append(json.load(open(f"{tmp}/rpc_{side}_{size}_{c}_r{r}.json")))
        except Exception:
            pass
    return out
def span(values, fmt):
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else fmt.format(lo) + "–" + fmt.format(hi)
print("| cell | old qps | new qps | new/old | old p99 ms | new p99 ms | errors old/new |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in (16, 1024):
    for c in (1, 64):
        o, n = runs("old", size, c), runs("new", size, c)
        oq, nq = [x["qps"] for x in o], [x["qps"] for x in n]
        ratio = (sum(nq) / len(nq)) / (sum(oq) / len(oq)) if oq and nq else float("nan")
        print(f"| echo {size} B, {c} callers | {span(oq, '{:,.0f}')} | {span(nq, '{:,.0f}')} | {ratio:.2f}× "
              f"| {span([x['latency_ms']['p99'] for x in o], '{:.2f}')} "
              f"| {span([x['latency_ms']['p99'] for x in n], '{:.2f}')} "
              f"| {sum(x['errors'] for x in o)}/{sum(x['errors'] for x in n)} |")
def wrk(side):
    out = []
    for path in glob.glob(f"{tmp}/wrk_{side}_r*.txt"):
        m = re.search(r"Requests/sec:\s*([\d.]+)", open(path).read())
        if m:
            out.append(float(m.group(1)))
    return out
o, n = wrk("old"), wrk("new")
if o and n:
    print(f"| wrk -c50 POST /rpc | {span(o, '{:,.0f}')} | {span(n, '{:,.0f}')} | "
          f"{(sum(n) / len(n)) / (sum(o) / len(o)):.2f}× | – | – | – |")
PY
