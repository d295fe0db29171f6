#!/usr/bin/python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

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
from txn_topology import check_transfers_end, now_ms, poll, say, start_transfers, start_with_two_banks

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
        topo, before = start_with_two_banks(sc, 1, (("a", 1), ("b", 1)), ACCOUNTS, OPENING)
        bank_b = topo.banks[1]
        client = topo.client
        say(start, f"two banks of {ACCOUNTS} accounts: total money {before}")
        load = start_transfers(sc.harpc, topo, topo.coordinator.members[0].address, ACCOUNTS, LOAD_S,
                               TXN_TIMEOUT_MS, 8, sc.path("transfer.log"))
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

        check_transfers_end(sc, start, topo, load, before, LOAD_S, IN_DOUBT_DEADLINE_S, failures)
        if failures:
            raise AssertionError("; ".join(failures))


if __name__ == "__main__":
    main()
