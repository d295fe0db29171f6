#!/usr/bin/env bash
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Transfer benchmark (`make bench-txn`): committed distributed transfers per
# second, at concurrency 1 and 64, with every fsync on, harpc's transactions
# side by side with PostgreSQL's own two-phase commit, in one run:
#
#   PostgreSQL: Debian's PostgreSQL (15), started here on a loopback port with a
#     temporary data dir (fsync, synchronous_commit and full_page_writes on), two
#     databases bank_a and bank_b, and bench/txn/pg_transfer.cc
#     (harpc_pg_transfer) moving 1 from a random account of bank_a to a random
#     account of bank_b with PREPARE TRANSACTION / COMMIT PREPARED on both.
#   harpc: `harpc coordinator` and two `harpc serve --service bank`, and
#     `harpc transfer --accounts` doing the same transfer through them.
#   harpc replicated: the same with a coordinator group of three and two bank
#     groups of three replicas each (--group: Raft, a command counts once a
#     majority fsynced it), transfers through list:// targets of all members.
#     Then a failover run: REPLICATED_FAILOVER_CONCURRENCY callers for
#     FAILOVER_DURATION s; the coordinators' leader is SIGKILLed after a third
#     of it and bank-b's leader after two thirds; reported: the longest time
#     without a commit, and transfers aborted (other than for lack of money).
#
# Each run also reports fsyncs per committed transfer: for PostgreSQL the
# server-wide WAL sync count (pg_stat_wal.wal_sync), for harpc the sum of
# harpc_txn_fsyncs_total in the /metrics of the coordinator and both banks,
# read before and after the run. It prints a markdown table on stdout.
#
# Environment (all optional):
#   BUILD=build          build dir holding harpc and bench/txn/harpc_pg_transfer
#   DURATION=10          seconds per run
#   CONCURRENCY="1 64"   the concurrencies to run, each for both systems
#   ACCOUNTS=1000        accounts per bank (per database)
#   PG_BIN=/usr/lib/postgresql/<newest>/bin   PostgreSQL's server binaries (14+)
#   REPLICATED=1         also run replicated harpc (0: skip it)
#   FAILOVER_DURATION=9  seconds of the failover run (0: skip it)
#   REPLICATED_FAILOVER_CONCURRENCY=16
#   KEEP_TMP=1           keep the temp dir (raw results, server logs) for inspection
#
# Everything runs on 127.0.0.1; every process started here is stopped by PID on
# exit; every wait is bounded. Nothing is pinned: both systems use both cores.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD="$ROOT/$BUILD"
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-1 64}
ACCOUNTS=${ACCOUNTS:-1000}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
REPLICATED=${REPLICATED:-1}
FAILOVER_DURATION=${FAILOVER_DURATION:-9}
REPLICATED_FAILOVER_CONCURRENCY=${REPLICATED_FAILOVER_CONCURRENCY:-16}

HARPC="$BUILD/harpc"
PG_TRANSFER="$BUILD/bench/txn/harpc_pg_transfer"

log() { echo "bench-txn: $*" >&2; }
die() { log "$*"; exit 1; }
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"
[[ -n "$PG_BIN" && -x "$PG_BIN/postgres" ]] ||
  die "PostgreSQL not found under /usr/lib/postgresql (HARPC_SETUP_BENCH=1 scripts/setup installs it)"
[[ -x "$PG_TRANSFER" ]] ||
  die "$PG_TRANSFER not found: it is built when libpq is found (libpq-dev; then make build, or BUILD=dir)"
PG_VERSION=$("$PG_BIN/postgres" --version | awk '{print $3}')
(( ${PG_VERSION%%.*} >= 14 )) || die "PostgreSQL $PG_VERSION has no pg_stat_wal: 14 or later is needed"

# The harpc half needs the transaction commands; until they exist the
# PostgreSQL half runs alone. (`harpc X --help` with an unknown X prints the
# top-level help and exits 0, so look for the options themselves.)
HAVE_HARPC=1
if ! [[ -x "$HARPC" ]] ||
   ! "$HARPC" coordinator --help 2>&1 | grep -q -- --data-dir ||
   ! "$HARPC" transfer --help 2>&1 | grep -q -- --accounts ||
   ! "$HARPC" serve --help 2>&1 | grep -q -- --coordinator; then
  HAVE_HARPC=0
  log "harpc half SKIPPED: $HARPC lacks 'coordinator', 'serve --coordinator' or 'transfer --accounts'"
fi

HAVE_GROUPS=0
if (( HAVE_HARPC && REPLICATED )); then
  if "$HARPC" coordinator --help 2>&1 | grep -q -- --group && "$HARPC" serve --help 2>&1 | grep -q -- --group; then
    HAVE_GROUPS=1
  else
    log "replicated harpc SKIPPED: $HARPC lacks 'coordinator --group' or 'serve --group'"
  fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/harpc-txn.XXXXXX")
RES="$TMP/results"
mkdir -p "$RES"
PIDS=()

# PostgreSQL refuses to run as root: as root, its programs run as the postgres
# user. setpriv (not runuser) because it execs the program in place, so the PID
# we hold is the postmaster's own and stopping it needs no signal forwarding.
AS_PG=()
if (( $(id -u) == 0 )); then
  AS_PG=(setpriv --reuid postgres --regid postgres --init-groups --)
  chown postgres: "$TMP"
fi


PG_PID=
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for its clients.
    if [[ "$pid" == "$PG_PID" ]]; then stop_pid "$pid" INT; else stop_pid "$pid"; fi
  done
  if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---- PostgreSQL ------------------------------------------------------------------
# start_postgres: initdb into $TMP/pg, start the postmaster on a free loopback
# port (unix socket in the temp dir, never /var/run), create bank_a and bank_b
# with ACCOUNTS accounts each. Sets PG_PID and PG_PORT.
start_postgres() {
  local dir="$TMP/pg" i
  mkdir -p "$dir"
  [[ ${#AS_PG[@]} -eq 0 ]] || chown postgres: "$dir"
  # cd: the postgres user may not read the caller's working directory.
  (cd "$dir" && "${AS_PG[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C) \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  PG_PORT=$(free_port)
  cat >>"$dir/data/postgresql.conf" <<EOF

# bench/txn.sh: loopback only, every durability setting on.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_prepared_transactions = 256
max_connections = 300
shared_buffers = 128MB
EOF
  (cd "$dir" && exec "${AS_PG[@]}" "$PG_BIN/postgres" -D "$dir/data") >"$dir/postgres.log" 2>&1 &
  PG_PID=$!
  PIDS+=("$PG_PID")
  for (( i = 0; i < 300; i++ )); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres && break
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.1
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres || { cat "$dir/postgres.log" >&2; die "postgres did not start"; }
  pg_sql postgres "CREATE DATABASE bank_a" >/dev/null
  pg_sql postgres "CREATE DATABASE bank_b" >/dev/null
  "$PG_TRANSFER" --setup --conninfo-a "$(conninfo bank_a)" --conninfo-b "$(conninfo bank_b)" --accounts "$ACCOUNTS" ||
    die "could not create the accounts"
  log "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT (pid $PG_PID), $ACCOUNTS accounts in bank_a and bank_b"
}

conninfo() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
pg_sql() {  # pg_sql DB SQL: prints the result, unaligned, no headers
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}

# pg_wal_syncs: the server's WAL fsyncs so far. Backends publish their WAL
# statistics when they exit (and at most once a second while busy), so first
# wait for the driver's backends to be gone.
pg_wal_syncs() {
  local i
  for (( i = 0; i < 100; i++ )); do
    [[ "$(pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname IN ('bank_a', 'bank_b')")" == 0 ]] && break
    sleep 0.1
  done
  sleep 0.5  # the WAL writer publishes its own counts on its next cycle (200 ms)
  pg_sql postgres "SELECT wal_sync FROM pg_stat_wal"
}
pg_checkpoints() { pg_sql postgres "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }

run_pg() {  # run_pg CONCURRENCY
  local c=$1 before after cp_before cp_after
  log "PostgreSQL 2PC, concurrency $c, ${DURATION}s"
  before=$(pg_wal_syncs); cp_before=$(pg_checkpoints)
  timeout $(( DURATION + 60 )) "$PG_TRANSFER" --conninfo-a "$(conninfo bank_a)" --conninfo-b "$(conninfo bank_b)" \
    --concurrency "$c" --duration "$DURATION" --accounts "$ACCOUNTS" --amount 1 --json \
    >"$RES/postgresql_c$c.json" 2>"$TMP/postgresql_c$c.err" ||
    log "harpc_pg_transfer failed: $(head -c 300 "$TMP/postgresql_c$c.err")"
  after=$(pg_wal_syncs); cp_after=$(pg_checkpoints)
  echo "{\"fsyncs\":$(( after - before )),\"checkpoints\":$(( cp_after - cp_before ))}" >"$RES/postgresql_c$c.fsyncs.json"
}

# ---- harpc -----------------------------------------------------------------------

# The accounts of both banks are a0 .. a<ACCOUNTS-1>: `harpc transfer
# --from-account a --accounts N` picks a random one of a0 .. a<N-1> on each side.
ACCOUNT_PREFIX=a

# open_accounts BANK...: ACCOUNTS accounts on each bank. One `harpc call` per
# account would start 2,000 processes; Bank.open over a few keep-alive
# connections per bank is the same call, much faster. A bank given as a list
# of group members "A,B,C" is called at its leader (421 answers say where).
open_accounts() {
  python3 - "$ACCOUNT_PREFIX" "$ACCOUNTS" "$@" <<'PY' || die "could not open the harpc accounts"
import http.client, json, sys
from concurrent.futures import ThreadPoolExecutor
prefix, n, banks = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def open_range(bank, lo, hi):
    members = bank.split(",")
    at = members[0]
    conns = {}
    for i in range(lo, hi):
        body = json.dumps({"account": f"{prefix}{i}", "balance": 1000000})
        for _ in range(50):  # bounded: redirects and elections
            if at not in conns:
                host, port = at.rsplit(":", 1)
                conns[at] = http.client.HTTPConnection(host, int(port), timeout=30)
            conns[at].request("POST", "/rpc/Bank.open", body,
                              {"Content-Type": "application/json", "Idempotency-Key": f"open-{prefix}{i}"})
            r = conns[at].getresponse()
            answer = r.read()
            if r.status == 421:
                leader = json.loads(answer)["error"].get("data", {}).get("leader")
                at = leader or members[(members.index(at) + 1) % len(members)]
                continue
            if r.status != 200:
                raise SystemExit(f"Bank.open {prefix}{i} on {at}: HTTP {r.status} {answer[:200]!r}")
            break
        else:
            raise SystemExit(f"Bank.open {prefix}{i}: no leader in {bank}")
step = 125
with ThreadPoolExecutor(8) as pool:
    jobs = [pool.submit(open_range, b, lo, min(lo + step, n)) for b in banks for lo in range(0, n, step)]
    for j in jobs:
        j.result()
PY
}

start_harpc() {
  mkdir -p "$TMP/coordinator"
  start_daemon coordinator "$HARPC" coordinator --listen 127.0.0.1:0 --data-dir "$TMP/coordinator"
  COORD_PID=$DAEMON_PID; COORD=$DAEMON_ADDR
  start_daemon bank_a "$HARPC" serve --service bank --listen 127.0.0.1:0 --db "$TMP/bank_a.db" --coordinator "$COORD"
  BANK_A=$DAEMON_ADDR
  start_daemon bank_b "$HARPC" serve --service bank --listen 127.0.0.1:0 --db "$TMP/bank_b.db" --coordinator "$COORD"
  BANK_B=$DAEMON_ADDR
  open_accounts "$BANK_A" "$BANK_B"
  log "harpc: coordinator $COORD (pid $COORD_PID), banks $BANK_A and $BANK_B, $ACCOUNTS accounts each"
}

# harpc_fsyncs: harpc_txn_fsyncs_total summed over the coordinator and both banks.
harpc_fsyncs() {
  local addr total=0 n
  for addr in "$COORD" "$BANK_A" "$BANK_B"; do
    n=$(curl -sf --max-time 5 "http://$addr/metrics" |
        awk '/^harpc_txn_fsyncs_total[ {]/ { s += $NF } END { printf "%d", s }') || n=0
    total=$(( total + n ))
  done
  echo "$total"
}

run_harpc() {  # run_harpc CONCURRENCY
  local c=$1 before after
  log "harpc transfer, concurrency $c, ${DURATION}s"
  before=$(harpc_fsyncs)
  timeout $(( DURATION + 60 )) "$HARPC" transfer --coordinator "$COORD" \
    --from "list://$BANK_A" --from-account "$ACCOUNT_PREFIX" --to "list://$BANK_B" --to-account "$ACCOUNT_PREFIX" \
    --amount 1 --duration "$DURATION" --concurrency "$c" --accounts "$ACCOUNTS" --json \
    >"$RES/harpc_c$c.json" 2>"$TMP/harpc_c$c.err" ||
    log "harpc transfer failed: $(head -c 300 "$TMP/harpc_c$c.err")"
  after=$(harpc_fsyncs)
  echo "{\"fsyncs\":$(( after - before ))}" >"$RES/harpc_c$c.fsyncs.json"
}

# ---- harpc replicated ---------------------------------------------------------------

# start_group NAME COUNT CMD-TEMPLATE...: COUNT members on free ports; in the
# template, @ADDR@ is the member's address, @N@ its number and @GROUP@ the
# member list. Sets GROUP_<NAME> (the list) and PIDS_<NAME> (their PIDs).
start_group() {
  local name=$1 count=$2 i addrs=() list pids=()
  shift 2
  for (( i = 1; i <= count; i++ )); do addrs+=("127.0.0.1:$(free_port)"); done
  list=$(IFS=,; echo "${addrs[*]}")
  for (( i = 1; i <= count; i++ )); do
    local args=() a
    for a in "$@"; do a=${a//@ADDR@/${addrs[i-1]}}; a=${a//@N@/$i}; args+=("${a//@GROUP@/$list}"); done
    start_daemon "${name}_$i" "${args[@]}"
    pids+=("$DAEMON_PID")
  done
  printf -v "GROUP_$name" '%s' "$list"
  eval "PIDS_$name=(${pids[*]})"
}

# group_leader_pid NAME: the PID of the member the group names as leader.
group_leader_pid() {
  local name=$1 list addr leader i pids
  eval "list=\$GROUP_$name; pids=(\${PIDS_$name[@]})"
  IFS=, read -r -a addrs <<<"$list"
  for addr in "${addrs[@]}"; do
    leader=$(curl -sf --max-time 1 "http://$addr/status" |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["group"]["leader"] or "")' 2>/dev/null) || continue
    [[ -n "$leader" ]] || continue
    for i in "${!addrs[@]}"; do [[ "${addrs[i]}" == "$leader" ]] && { echo "${pids[i]}"; return 0; }; done
  done
  return 1
}

start_harpc_replicated() {
  start_group coord 3 "$HARPC" coordinator --listen @ADDR@ --data-dir "$TMP/rcoord@N@" --group @GROUP@
  start_group rbank_a 3 "$HARPC" serve --service bank --listen @ADDR@ --db "$TMP/rbank_a@N@.db" --group @GROUP@ \
    --coordinator "list://$GROUP_coord"
  start_group rbank_b 3 "$HARPC" serve --service bank --listen @ADDR@ --db "$TMP/rbank_b@N@.db" --group @GROUP@ \
    --coordinator "list://$GROUP_coord"
  open_accounts "$GROUP_rbank_a" "$GROUP_rbank_b"
  log "harpc replicated: coordinators $GROUP_coord, bank_a $GROUP_rbank_a, bank_b $GROUP_rbank_b"
}

run_harpc_replicated() {  # run_harpc_replicated CONCURRENCY [DURATION] [OUTPUT]
  local c=$1 d=${2:-$DURATION} out=${3:-$RES/replicated_c$1.json}
  log "harpc replicated transfer, concurrency $c, ${d}s"
  timeout $(( d + 60 )) "$HARPC" transfer --coordinator "list://$GROUP_coord" \
    --from "list://$GROUP_rbank_a" --from-account "$ACCOUNT_PREFIX" \
    --to "list://$GROUP_rbank_b" --to-account "$ACCOUNT_PREFIX" \
    --amount 1 --duration "$d" --concurrency "$c" --accounts "$ACCOUNTS" --json \
    >"$out" 2>"$out.err" || log "harpc transfer failed: $(head -c 300 "$out.err")"
}

# The failover run: SIGKILL the coordinators' leader, then bank-b's, during the load.
run_replicated_failover() {
  local c=$REPLICATED_FAILOVER_CONCURRENCY d=$FAILOVER_DURATION load pid
  run_harpc_replicated "$c" "$d" "$RES/failover.json" &
  load=$!
  sleep "$(python3 -c "print($d / 3)")"
  pid=$(group_leader_pid coord) && { kill -KILL "$pid"; log "killed the coordinators' leader (pid $pid)"; }
  sleep "$(python3 -c "print($d / 3)")"
  pid=$(group_leader_pid rbank_b) && { kill -KILL "$pid"; log "killed bank_b's leader (pid $pid)"; }
  wait "$load" || true
}

# ---- the runs ----------------------------------------------------------------------
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$SECONDS

start_postgres
(( HAVE_HARPC )) && start_harpc
(( HAVE_GROUPS )) && start_harpc_replicated
# The systems take turns at each concurrency, so that load from other jobs
# on this shared machine falls on all alike.
for c in $CONCURRENCY; do
  run_pg "$c"
  (( HAVE_HARPC )) && run_harpc "$c"
  (( HAVE_GROUPS )) && run_harpc_replicated "$c"
done
(( HAVE_GROUPS && FAILOVER_DURATION > 0 )) && run_replicated_failover

# The money must all be there and no transaction left prepared (a lost or
# half-applied transfer would show here).
pg_money=$(( $(pg_sql bank_a "SELECT sum(balance) FROM accounts") + $(pg_sql bank_b "SELECT sum(balance) FROM accounts") ))
pg_prepared=$(pg_sql postgres "SELECT count(*) FROM pg_prepared_xacts")
# The same check on the harpc banks, once every transfer in doubt is settled
# (a participant asks its coordinator about prepared calls within ~2.5 s).
harpc_money=0; harpc_reserved=0; harpc_prepared=0
if (( HAVE_HARPC )); then
  harpc_bank_sum() {  # harpc_bank_sum METHOD FIELD: FIELD of METHOD's answer, summed over both banks
    local addr total=0 n
    for addr in "$BANK_A" "$BANK_B"; do
      n=$(curl -sf --max-time 5 -d '{}' "http://$addr/rpc/$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])") || n=-1
      total=$(( total + n ))
    done
    echo "$total"
  }
  for (( i = 0; i < 100; i++ )); do
    harpc_prepared=$(harpc_bank_sum Participant.status prepared)
    (( harpc_prepared == 0 )) && break
    sleep 0.1
  done
  harpc_money=$(harpc_bank_sum Bank.audit total)
  harpc_reserved=$(harpc_bank_sum Bank.audit reserved)
fi

# ---- report ------------------------------------------------------------------------
cat >"$RES/meta.json" <<EOF
{"date": "$started", "elapsed_s": $(( SECONDS - t0 )), "duration_s": $DURATION, "accounts": $ACCOUNTS,
 "concurrency": "$CONCURRENCY", "cores": $(nproc),
 "cpu": "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)",
 "load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "postgresql": "$PG_VERSION", "have_harpc": $HAVE_HARPC, "have_groups": $HAVE_GROUPS, "failover_s": $FAILOVER_DURATION,
 "pg_money": $pg_money, "pg_money_expected": $(( 2 * ACCOUNTS * 1000000 )), "pg_prepared_left": $pg_prepared,
 "harpc_money": $harpc_money, "harpc_reserved": $harpc_reserved, "harpc_prepared_left": $harpc_prepared,
 "harpc": "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"}
EOF
python3 - "$RES" <<'PY'
import json, os, sys
res = sys.argv[1]
meta = json.load(open(os.path.join(res, "meta.json")))

def load(name):
    try:
        return json.load(open(os.path.join(res, name)))
    except (OSError, ValueError):
        return None

print(f"Transfer benchmark, {meta['date']}: {meta['duration_s']} s per run, {meta['accounts']} accounts per bank, "
      f"{meta['cores']} cores ({meta['cpu']}), load average {meta['load_before']} before, {meta['load_after']} after; "
      f"PostgreSQL {meta['postgresql']}, harpc {meta['harpc']}; {meta['elapsed_s']} s in all.")
print()
print("| system | concurrency | committed tps | p50 ms | p99 ms | fsyncs per committed transfer | aborted / errors | tps harpc / PostgreSQL |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in meta["concurrency"].split():
    pg_tps = None
    for system, label in (("postgresql", "PostgreSQL 2PC"), ("harpc", "harpc"),
                          ("replicated", "harpc replicated (3 + 3 + 3)")):
        r, f = load(f"{system}_c{c}.json"), load(f"{system}_c{c}.fsyncs.json")
        if (system == "harpc" and not meta["have_harpc"]) or (system == "replicated" and not meta["have_groups"]):
            print(f"| {label} | {c} | skipped | | | | | |")
            continue
        if r is None:
            print(f"| {label} | {c} | failed | | | | | |")
            continue
        per = f"{f['fsyncs'] / r['committed']:.2f}" if f and r["committed"] else "n/a (Raft log)" if system == "replicated" else "n/a"
        if f and f.get("checkpoints"):
            per += f" ({f['checkpoints']} checkpoint(s) during the run: their data-file fsyncs are not counted)"
        ratio = ""
        if system == "postgresql":
            pg_tps = r["tps"]
        elif pg_tps:
            ratio = f"{r['tps'] / pg_tps:.2f}x"
        lat = r["latency_ms"]
        print(f"| {label} | {c} | {r['tps']:,.0f} | {lat['p50']:.2f} | {lat['p99']:.2f} | {per} | "
              f"{r['aborted']} / {r['errors']} | {ratio} |")
ok = meta["pg_money"] == meta["pg_money_expected"] and meta["pg_prepared_left"] == 0
print()
print(f"PostgreSQL afterwards: {meta['pg_money']:,} in the two databases ({meta['pg_money_expected']:,} expected), "
      f"{meta['pg_prepared_left']} transactions left prepared: {'consistent' if ok else '**INCONSISTENT**'}.")
if meta["have_harpc"]:
    ok = (meta["harpc_money"] == meta["pg_money_expected"] and meta["harpc_reserved"] == 0
          and meta["harpc_prepared_left"] == 0)
    print(f"harpc afterwards: {meta['harpc_money']:,} in the two banks ({meta['pg_money_expected']:,} expected), "
          f"{meta['harpc_reserved']} reserved, {meta['harpc_prepared_left']} calls left prepared: "
          f"{'consistent' if ok else '**INCONSISTENT**'}.")
fo = load("failover.json")
if fo:
    failure_aborts = fo["aborted"] - fo["abort_reasons"].get("insufficient funds", 0) + fo["errors"]
    print(f"Replicated failover run: {fo['committed']:,} committed in {meta.get('failover_s', '')} s; the coordinators' "
          f"leader and then bank_b's leader SIGKILLed; longest time without a commit {fo['longest_gap_ms']} ms; "
          f"transfers aborted or unknown because of the failures: {failure_aborts}.")
print("fsyncs: PostgreSQL, pg_stat_wal.wal_sync of the whole server (both databases share one WAL); "
      "harpc, harpc_txn_fsyncs_total summed over the coordinator and both banks.")
PY
