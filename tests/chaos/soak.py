#!/usr/bin/python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""The soak: the whole demo topology in network namespaces, under steady load,
with one random fault at a time for DURATION seconds; then everything heals
and the invariants are checked.

Topology (each daemon in a namespace of its own, 10.77.0.0/24): three
sentinels (quorum 2), three echo servers registered with them, a coordinator
group of three, two bank groups of three. From a client namespace:
- `harpc bench` calls Echo.echo (idempotent) through the sentinels
  (sentinel://S1,S2,S3/echo), an HA channel with retries and hedging;
- `harpc transfer` moves money both ways between the banks through the
  coordinator group.

Faults, one at a time, each held 1-4 s, then a pause of 1-3 s:
- kill:      SIGKILL, restarted when the fault ends
- freeze:    SIGSTOP, SIGCONT when the fault ends
- partition: the host cut off from every other host (nftables, both ways)
- loss:      30 % of the host's packets dropped (nftables)
- slow:      an echo server answers 300 ms late (Fault.set)
- restart:   SIGTERM (a graceful drain), started again at once
The observed daemons (one member of each group, one sentinel, one echo server)
are never killed or restarted, so that their file descriptors, threads and
memory can be compared over the whole run; every other fault hits them too.

Checks at the end (exit status 1 when one fails):
- idempotent calls fail only inside a fault window: from a fault's start to
  WINDOW_AFTER_S after its end, on the echo servers or sentinels the calls
  depend on. The bench reports its totals every second; a second with a
  failure counts as outside when [its start - the call deadline, its end]
  meets no window. Failures outside: must be 0;
- money is conserved: the sum of both banks' balances is what it was;
- nothing is in doubt: both banks report no call prepared and no money
  reserved, within SETTLE_DEADLINE_S after the load;
- the members of each group agree (bank digests; coordinators' indexes);
- no leak in the observed daemons and the two load processes, sampled after
  the warm-up and after the last fault:
  - open fds other than sockets: at most FD_SLACK more (sockets come and go
    with connections: a group's leader holds many more than a follower);
  - sockets in CLOSE_WAIT (a connection its peer closed and the process did
    not) at the end and still CLOSE_WAIT_GRACE_S later: at most
    CLOSE_WAIT_ALLOWANCE. A pooled idle connection whose server went away is
    found stale only at its next use (src/http/connection_pool.cc), so a few
    may wait; a leak would grow with the faults, well past it;
  - threads: at most THREAD_SLACK more;
  - RSS: at most RSS_SLACK_MIB more, plus RSS_PER_TRANSFER_KIB per transfer
    committed between the samples for the banks and coordinators (which keep
    decided transactions by design).

Usage: soak.py HARPC_BINARY [--duration S] [--seed N] (`make soak
DURATION=600`). Exit 77 without root, ip or nft. The logs are kept when it
fails (or with HARPC_CHAOS_KEEP set)."""

import argparse
import collections
import json
import os
import random
import time

from cluster import Scenario
from txn_topology import Load, Topology, now_ms, open_two_banks, poll, say, start_transfers

ACCOUNTS, OPENING = 20, 1000
CALL_TIMEOUT_MS = 2000
TXN_TIMEOUT_MS = 3000
WARM_UP_S = 15
CALM_S = 10                # between the last fault's end and the end-of-run sample
WINDOW_AFTER_S = 5.0       # a fault's window lasts this long after its end
SETTLE_DEADLINE_S = 60
AGREE_DEADLINE_S = 30
FD_SLACK, THREAD_SLACK = 8, 2
CLOSE_WAIT_GRACE_S = 3
CLOSE_WAIT_ALLOWANCE = 4
# RSS growth allowed between the two samples. Banks and coordinators keep
# decided transactions in memory by design (a bank group its decided calls
# for 1 h, a coordinator group its done decisions for 5 min and up to 65,536
# log entries between snapshots), so they may grow with the transfers
# committed meanwhile; the other processes hold no such state.
RSS_SLACK_MIB = 16
RSS_PER_TRANSFER_KIB = 4
RSS_CURVE_EVERY_S = 60  # the report shows each long-lived process's RSS this often
FAULT_KINDS = ("kill", "freeze", "partition", "loss", "slow", "restart")


def hex_address(field):
    """"0100007F:1B58" (/proc/net/tcp, IPv4) -> "127.0.0.1:7000"."""
    address, port = field.split(":")
    if len(address) != 8:
        return field
    return ".".join(str(b) for b in reversed(bytes.fromhex(address))) + f":{int(port, 16)}"


class Fault:
    def __init__(self, kind, daemon, held_s):
        self.kind, self.daemon, self.held_s = kind, daemon, held_s
        self.start_ms = self.end_ms = None
        self.error = None

    def line(self):
        span = (self.end_ms - self.start_ms) / 1000 if self.end_ms else 0
        return f"{self.kind:9s} {self.daemon.name:9s} {self.daemon.address:15s} {span:4.1f} s" + \
            (f"  ERROR {self.error}" if self.error else "")


class Soak:
    def __init__(self, sc, duration_s, seed):
        self.harpc, self.log_dir, self.duration_s = sc.harpc, sc.dir, duration_s
        self.rng = random.Random(seed)
        self.seed = seed
        self.topo = Topology(sc.harpc, sc.net, sc.dir, coordinators=3, banks=(("a", 3), ("b", 3)), sentinels=3,
                             echo=3)
        self.client = self.topo.client
        self.start = time.monotonic()
        self.faults = []
        self.failures = []
        # Never killed nor restarted: their resources are compared start -> end.
        self.observed = [self.topo.sentinels[0], self.topo.echo[0]] + [g.members[0] for g in self.topo.groups]

    def say(self, text):
        say(self.start, text)

    # --- faults -------------------------------------------------------------

    def pick_fault(self):
        kind = self.rng.choice(FAULT_KINDS)
        if kind == "slow":
            candidates = self.topo.echo
        elif kind in ("kill", "restart"):
            candidates = [d for d in self.topo.daemons if d not in self.observed]
        else:
            candidates = self.topo.daemons
        return Fault(kind, self.rng.choice(candidates), self.rng.uniform(1.0, 4.0))

    def others(self, daemon):
        return [d.host for d in self.topo.daemons if d is not daemon] + [self.topo.client_host]

    def inject(self, fault):
        d = fault.daemon
        if fault.kind == "kill":
            d.kill()
        elif fault.kind == "freeze":
            d.freeze()
        elif fault.kind == "partition":
            d.host.partition(self.others(d))
        elif fault.kind == "loss":
            d.host.loss(30)
        elif fault.kind == "slow":
            if self.client.call("list://" + d.address, "Fault.set", {"delay_ms": 300}) is None:
                raise RuntimeError("Fault.set did not answer")
        elif fault.kind == "restart":
            d.terminate()
            d.start()

    def repair(self, fault):
        d = fault.daemon
        if fault.kind == "kill":
            d.start()
        elif fault.kind == "freeze":
            d.thaw()
        elif fault.kind in ("partition", "loss"):
            d.host.heal()
        elif fault.kind == "slow":
            ok = poll(lambda: self.client.call("list://" + d.address, "Fault.set", {"delay_ms": 0}) is not None, 10)
            if not ok:
                raise RuntimeError("Fault.set did not answer")

    def run_fault(self, fault):
        fault.start_ms = now_ms()
        try:
            self.inject(fault)
            time.sleep(fault.held_s)  # the fault's length is what is under test
        except Exception as e:  # noqa: BLE001 - logged with the fault, and repaired below
            fault.error = f"inject: {e}"
        try:
            self.repair(fault)
        except Exception as e:  # noqa: BLE001
            fault.error = (fault.error + "; " if fault.error else "") + f"repair: {e}"
        fault.end_ms = now_ms()
        self.faults.append(fault)
        self.say("fault " + fault.line())
        with open(os.path.join(self.log_dir, "faults.jsonl"), "a") as f:
            f.write(json.dumps({"kind": fault.kind, "daemon": fault.daemon.name, "address": fault.daemon.address,
                                "start_ms": fault.start_ms, "end_ms": fault.end_ms, "error": fault.error}) + "\n")

    def heal_everything(self):
        for d in self.topo.daemons:
            d.host.heal()
            if d.process is not None and d.alive():
                d.thaw()
            else:
                self.say(f"{d.name} is not running at the end of the faults: started again")
                d.start()

    # --- resources ----------------------------------------------------------

    @staticmethod
    def resources(pid):
        """(fds other than sockets, sockets, its sockets in CLOSE_WAIT ("local->remote#inode"), threads, RSS KiB) of a
        process, from /proc."""
        sockets = set()
        other = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                sockets.add(target[len("socket:["):-1])
            else:
                other += 1
        close_wait = set()
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "08" and fields[9] in sockets:  # st 08: CLOSE_WAIT; inode
                        close_wait.add(f"{hex_address(fields[1])}->{hex_address(fields[2])}#{fields[9]}")
        threads = len(os.listdir(f"/proc/{pid}/task"))
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return other, len(sockets), close_wait, threads, rss

    def sample(self, loads):
        """{name: (pid, resources())} of the observed daemons and the loads."""
        out = {}
        for d in self.observed:
            out[d.name] = (d.process.pid, self.resources(d.process.pid))
        for load in loads:
            out[load.kind] = (load.process.pid, self.resources(load.process.pid))
        return out

    # --- idempotent calls in and out of the fault windows ----------------------

    def windows(self):
        echo_path = set(self.topo.echo) | set(self.topo.sentinels)
        return [(f.start_ms, f.end_ms + int(WINDOW_AFTER_S * 1000)) for f in self.faults if f.daemon in echo_path]

    def classify_call_failures(self, bench):
        """(failed in a window, failed outside, the seconds outside with their failures)."""
        windows = self.windows()
        inside = outside = 0
        seconds_outside = []
        previous = None
        for tick in bench.ticks():
            failed = tick["errors"] - (previous["errors"] if previous else 0)
            if failed > 0:
                begin = (previous["unix_ms"] if previous else tick["unix_ms"] - 1000) - CALL_TIMEOUT_MS
                end = tick["unix_ms"]
                if any(begin <= w_end and w_start <= end for w_start, w_end in windows):
                    inside += failed
                else:
                    outside += failed
                    seconds_outside.append((tick["unix_ms"], failed))
            previous = tick
        return inside, outside, seconds_outside

    # --- the run --------------------------------------------------------------

    def run(self):
        topo, client = self.topo, self.client
        self.say(f"starting {len(topo.daemons)} daemons, each in its own namespace (seed {self.seed})")
        topo.start()
        before = open_two_banks(client, topo.banks, ACCOUNTS, OPENING)
        self.say(f"banks open: total money {before}")
        for g in topo.groups:
            self.say(f"{g.name:12s} {g.addresses}")
        self.say(f"sentinels    {','.join(s.address for s in topo.sentinels)}; echo "
                 f"{','.join(e.address for e in topo.echo)}")

        load_s = self.duration_s
        bench = Load(self.harpc, topo.client_host, "bench",
                     [topo.sentinel_target + "/echo", "--method", "Echo.echo", "--data", '{"soak":true}',
                      "--idempotent", "--concurrency", "2", "--duration", str(load_s),
                      "--timeout-ms", str(CALL_TIMEOUT_MS), "--retries", "2", "--hedge-ms", "300",
                      "--health-interval-ms", "200"],
                     os.path.join(self.log_dir, "bench.log"))
        transfer = start_transfers(self.harpc, topo, topo.coordinator.target, ACCOUNTS, load_s, TXN_TIMEOUT_MS, 4,
                                   os.path.join(self.log_dir, "transfer.log"))
        load_started = time.monotonic()
        loads = [bench, transfer]
        if not poll(lambda: (bench.latest() or {}).get("ok", 0) > 0 and
                    (transfer.latest() or {}).get("committed", 0) > 0, WARM_UP_S + 15):
            raise RuntimeError("no echo call or no transfer succeeded during the warm-up")
        poll(lambda: time.monotonic() - load_started >= WARM_UP_S, WARM_UP_S + 1, 0.2)
        start_sample, start_sample_ms = self.sample(loads), now_ms()
        self.say("warmed up: resources sampled; faults begin")

        faults_until = load_started + load_s - CALM_S - 8
        rss_curve = collections.defaultdict(list)  # name -> RSS MiB every RSS_CURVE_EVERY_S
        next_rss_point = 0.0
        while time.monotonic() < faults_until:
            if time.monotonic() >= next_rss_point:
                for name, (_, resources) in self.sample(loads).items():
                    rss_curve[name].append(resources[4] / 1024)
                next_rss_point = time.monotonic() + RSS_CURVE_EVERY_S
            self.run_fault(self.pick_fault())
            # The quiet time between two faults is part of the schedule under test.
            time.sleep(max(0.0, min(self.rng.uniform(1.0, 3.0), faults_until - time.monotonic())))
        self.heal_everything()
        self.say("faults over: every host healed, every process thawed and running")
        poll(lambda: time.monotonic() - load_started >= load_s - 8, CALM_S + 10, 0.2)
        end_sample, end_sample_ms = self.sample(loads), now_ms()
        # A socket in CLOSE_WAIT for a moment is one being closed; one still
        # there a few seconds later is leaked.
        time.sleep(CLOSE_WAIT_GRACE_S)
        later = self.sample(loads)
        for name, (pid, (fds, sockets, close_wait, threads, rss)) in end_sample.items():
            end_sample[name] = (pid, (fds, sockets, close_wait & later[name][1][2], threads, rss))
        transfers_between = transfer.committed_at(end_sample_ms) - transfer.committed_at(start_sample_ms)

        bench_code, transfer_code = bench.wait(60), transfer.wait(60)
        bench_report, transfer_report = bench.report() or {}, transfer.report() or {}
        if bench_code != 0 or transfer_code != 0 or not bench_report or not transfer_report:
            self.failures.append(f"a load exited badly: bench {bench_code}, transfer {transfer_code}")

        audits, settled, waited = client.wait_settled(topo.banks, SETTLE_DEADLINE_S)
        after = sum(a[0] for a in audits.values()) if len(audits) == 2 else None
        digests = {b.name: client.wait_digests_agree(b, AGREE_DEADLINE_S) for b in topo.banks}
        coordinator_logs = client.wait_logs_agree(topo.coordinator, AGREE_DEADLINE_S)
        inside, outside, seconds_outside = self.classify_call_failures(bench)

        # --- the report ---
        kinds = collections.Counter(f.kind for f in self.faults)
        fault_errors = [f for f in self.faults if f.error]
        print("\n== Soak report")
        print(f"  duration {self.duration_s} s, seed {self.seed}, {len(topo.daemons)} daemons in namespaces")
        print(f"  faults injected: {len(self.faults)} — " + ", ".join(f"{k} {kinds[k]}" for k in FAULT_KINDS) +
              (f"; {len(fault_errors)} could not be injected or repaired" if fault_errors else ""))
        print(f"  idempotent calls (Echo.echo via sentinel://, retries 2, hedge 300 ms, deadline "
              f"{CALL_TIMEOUT_MS} ms): {bench_report.get('requests')} calls, {bench_report.get('ok')} ok, "
              f"{bench_report.get('errors')} failed: {inside} inside fault windows, {outside} outside "
              f"(window = a fault on an echo server or sentinel, from its start to {WINDOW_AFTER_S:.0f} s after "
              f"its end); error kinds {bench_report.get('error_kinds')}")
        for unix_ms, n in seconds_outside:
            print(f"    {n} failed in the second ending at unix ms {unix_ms}")
        print(f"  transfers: {transfer_report.get('transfers')}, committed {transfer_report.get('committed')}, "
              f"aborted {transfer_report.get('aborted')}, outcome unknown {transfer_report.get('errors')}; "
              f"longest time without a commit {transfer_report.get('longest_gap_ms')} ms")
        for reason, n in sorted((transfer_report.get("abort_reasons") or {}).items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {n:6d}  {reason}")
        print(f"  money: before {before}, after {after}: {'conserved' if after == before else 'NOT CONSERVED'}")
        print(f"  in doubt after the load: " +
              ", ".join(f"{name} prepared {a[2]} reserved {a[1]}" for name, a in sorted(audits.items())) +
              f" ({'settled' if settled else 'NOT settled'} {waited:.1f} s after the load)")
        print(f"  groups agree: " + ", ".join(f"{n} digest {d}" for n, d in digests.items()) +
              f", coordinators (commit, applied) {coordinator_logs}")
        print(f"  resources, start (after the {WARM_UP_S} s warm-up) -> end (after the last fault), "
              f"{transfers_between} transfers committed between; bounds: fds other than sockets +{FD_SLACK}, "
              f"CLOSE_WAIT at most {CLOSE_WAIT_ALLOWANCE}, threads +{THREAD_SLACK}, RSS +{RSS_SLACK_MIB} MiB (banks, coordinators: "
              f"+ {RSS_PER_TRANSFER_KIB} KiB per transfer):")
        keeps_transactions = {d.name for g in topo.groups for d in g.members}
        leaks = []
        for name, (pid, (fd0, so0, _, th0, rss0)) in start_sample.items():
            end_pid, (fd1, so1, close_wait, th1, rss1) = end_sample[name]
            rss_bound = RSS_SLACK_MIB * 1024
            if name in keeps_transactions:
                rss_bound += RSS_PER_TRANSFER_KIB * transfers_between
            bad = []
            if end_pid != pid:
                bad.append("restarted")
            if fd1 > fd0 + FD_SLACK:
                bad.append("fds")
            if len(close_wait) > CLOSE_WAIT_ALLOWANCE:
                bad.append(f"{len(close_wait)} sockets in CLOSE_WAIT ({', '.join(sorted(close_wait))})")
            if th1 > th0 + THREAD_SLACK:
                bad.append("threads")
            if rss1 - rss0 > rss_bound:
                bad.append("rss")
            per_transfer = f"{(rss1 - rss0) / transfers_between:5.2f} KiB/transfer" if transfers_between else ""
            print(f"    {name:10s} pid {pid:7d}  fds {fd0:3d} -> {fd1:3d}  sockets {so0:3d} -> {so1:3d} "
                  f"({len(close_wait)} CLOSE_WAIT{': ' + ', '.join(sorted(close_wait)) if close_wait else ''})  threads {th0:2d} -> {th1:2d}  RSS {rss0 / 1024:6.1f} -> "
                  f"{rss1 / 1024:6.1f} MiB (bound +{rss_bound / 1024:.0f}; {per_transfer})  "
                  f"{'OK' if not bad else 'EXCEEDED: ' + ','.join(bad)}")
            if bad:
                leaks.append(f"{name}: {', '.join(bad)}")
        print(f"  RSS every {RSS_CURVE_EVERY_S} s during the faults, MiB:")
        for name, points in rss_curve.items():
            print(f"    {name:10s} " + " ".join(f"{p:.0f}" for p in points))

        if outside:
            self.failures.append(f"{outside} idempotent calls failed outside the fault windows")
        if after != before:
            self.failures.append(f"money not conserved: {before} before, {after} after")
        if not settled:
            self.failures.append(f"something still in doubt {SETTLE_DEADLINE_S} s after the load: {audits}")
        for name, d in digests.items():
            if d is None:
                self.failures.append(f"{name}'s members disagree")
        if coordinator_logs is None:
            self.failures.append("the coordinators' indexes disagree")
        if leaks:
            self.failures.append("resources over their bounds: " + "; ".join(leaks))
        if fault_errors:
            self.failures.append(f"{len(fault_errors)} faults could not be injected or repaired")
        if not transfer_report.get("committed"):
            self.failures.append("no transfer committed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harpc")
    parser.add_argument("--duration", type=int, default=600, help="seconds of load and faults (default 600)")
    parser.add_argument("--seed", type=int, default=None, help="the faults' random seed (default: from the clock)")
    args = parser.parse_args()
    if args.duration < 60:
        parser.error("--duration must be at least 60 s (warm-up, faults, calm)")
    seed = args.seed if args.seed is not None else int(time.time())
    with Scenario("soak") as sc:
        soak = Soak(sc, args.duration, seed)
        soak.run()
        for failure in soak.failures:
            print("FAIL:", failure)
        if soak.failures:
            raise AssertionError(f"{len(soak.failures)} invariants failed (seed {seed})")
        print("\nPASS: every invariant held")


if __name__ == "__main__":
    main()
