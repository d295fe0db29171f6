#!/usr/bin/python3
"""Chaos scenario d: the coordinator is cut off from one bank (a two-way
nftables partition between their namespaces) while transfers run between two
banks; then the partition heals.

Asserts:
- the partition bites: no transfer commits while it holds (every transfer
  needs both banks' votes registered with the coordinator), once the
  transactions begun before it have ended (their timeout, 2 s);
- transfers commit again after the heal;
- money is conserved: the sum of both banks' balances, read from the banks,
  is what it was before the load;
- nothing stays in doubt: within IN_DOUBT_DEADLINE_S of the load's end, both
  banks report no call prepared and no money reserved (the banks ask the
  coordinator about their calls in doubt, with a backoff of at most 10 s).
  The calls bank-b holds prepared when the partition heals are a figure.

Usage: coordinator_bank_partition_test.py HARPC_BINARY. Exit 77 (skip) without
root, ip or nft."""

import time

from cluster import Scenario
from txn_topology import Load, Topology, now_ms, poll, say

ACCOUNTS, OPENING = 10, 1000
TXN_TIMEOUT_MS = 2000
LOAD_S = 26
COMMITTED_BEFORE_CUT = 40  # the partition starts once this many transfers committed
PARTITION_S = 7
IN_DOUBT_DEADLINE_S = 40


def main():
    with Scenario("coordinator_bank_partition") as sc:
        start = time.monotonic()
        failures = []
        topo = Topology(sc.harpc, sc.net, sc.dir, coordinators=1, banks=(("a", 1), ("b", 1)))
        topo.start()
        bank_a, bank_b = topo.banks
        client = topo.client
        client.open_accounts(bank_a, "a", ACCOUNTS, OPENING)
        client.open_accounts(bank_b, "b", ACCOUNTS, OPENING)
        before = sum(client.audit(b)[0] for b in topo.banks)
        say(start, f"two banks of {ACCOUNTS} accounts: total money {before}")

        load = Load(sc.harpc, topo.client_host, "transfer",
                    ["--coordinator", topo.coordinator.members[0].address, "--from", bank_a.target,
                     "--from-account", "a", "--to", bank_b.target, "--to-account", "b", "--accounts",
                     str(ACCOUNTS), "--both-ways", "--amount", "7", "--concurrency", "8",
                     "--duration", str(LOAD_S), "--timeout-ms", str(TXN_TIMEOUT_MS)],
                    sc.path("transfer.log"))
        if not poll(lambda: (load.latest() or {}).get("committed", 0) >= COMMITTED_BEFORE_CUT, 20):
            raise RuntimeError(f"fewer than {COMMITTED_BEFORE_CUT} transfers committed in 20 s")

        coordinator_host = topo.coordinator.members[0].host
        cut_ms = now_ms()
        coordinator_host.partition([bank_b.members[0].host])
        say(start, "coordinator <-> bank-b partitioned (nftables, both ways)")
        time.sleep(PARTITION_S)  # the fault's length is what is under test
        # bank-b's prepares whose votes could not be registered: in doubt.
        in_doubt = (client.ask(bank_b.members[0].address, "Participant.status") or {}).get("prepared")
        sc.figure("bank_b_prepared_at_heal", in_doubt)
        healed_ms = now_ms()
        coordinator_host.heal()
        say(start, f"partition healed; bank-b had {in_doubt} calls prepared")

        # The partition bites: nothing commits once the transactions begun
        # before it have run out of time (their timeout, plus a tick).
        quiet_from = cut_ms + TXN_TIMEOUT_MS + 1500
        during = load.committed_at(healed_ms) - load.committed_at(quiet_from)
        sc.figure("committed_while_cut", during)
        if during != 0:
            failures.append(f"{during} transfers committed while the coordinator could not reach bank-b")

        committed_at_heal = load.committed_at(healed_ms)
        t_heal = time.monotonic()
        if poll(lambda: (load.latest() or {}).get("committed", 0) > committed_at_heal + 10, 15):
            sc.figure("resumed_after_heal_s", time.monotonic() - t_heal)
        else:
            failures.append("transfers did not resume within 15 s of the heal")

        code = load.wait(LOAD_S + 30)
        report = load.report() or {}
        if code != 0 or not report:
            failures.append(f"harpc transfer exited {code} without a report")
        for key in ("transfers", "committed", "aborted", "errors", "longest_gap_ms"):
            sc.figure(key, report.get(key))

        audits, settled, waited = client.wait_settled(topo.banks, IN_DOUBT_DEADLINE_S)
        sc.figure("settled_after_load_s", waited)
        if not settled:
            failures.append(f"something still in doubt {IN_DOUBT_DEADLINE_S} s after the load: {audits}")
        after = sum(a[0] for a in audits.values()) if len(audits) == 2 else None
        say(start, f"total money before {before}, after {after}; (total, reserved, prepared) per bank {audits}")
        if after != before:
            failures.append(f"money not conserved: {before} before, {after} after")
        if not report.get("committed"):
            failures.append("no transfer committed")
        if failures:
            raise AssertionError("; ".join(failures))


if __name__ == "__main__":
    main()
