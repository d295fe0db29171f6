#!/usr/bin/python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Chaos scenario e: a replicated group's leader is cut off from its two
followers (two-way nftables partitions between namespaces; clients still
reach it) while transfers run, first in bank-a's group of three, then in the
coordinators' group of three. Then each partition heals.

Asserts, for each group:
- the old leader loses leadership within STEP_DOWN_BOUND_S (libraft: a leader
  that has not heard from a majority for an election timeout, 300 ms, steps
  down) and never calls itself leader again while cut off;
- no split brain: once it has stepped down, its commit index never advances
  while it is cut off (acknowledgements that reached it before the cut may
  raise it until then), and it never passes the majority's; after the heal every member agrees (the bank:
  the same Participant.digest, commands and hash of every row; the
  coordinators: the same commit and applied index);
- the majority elects a new leader within ELECTION_BOUND_S and transfers
  commit while the old leader is cut off;
- the bank invariant: money is conserved and nothing stays in doubt.

Usage: group_leader_partition_test.py HARPC_BINARY. Exit 77 (skip) without
root, ip or nft."""

import time

from cluster import Scenario
from txn_topology import check_transfers_end, now_ms, poll, say, start_transfers, start_with_two_banks

ACCOUNTS, OPENING = 10, 1000
TXN_TIMEOUT_MS = 3000
LOAD_S = 50
PARTITION_S = 9
STEP_DOWN_BOUND_S = 2.0
ELECTION_BOUND_S = 5.0
IN_DOUBT_DEADLINE_S = 40
AGREE_DEADLINE_S = 20


def cut_leader(sc, start, topo, group, load, failures, bank=True):
    """Partitions `group`'s leader from its followers for PARTITION_S, checks
    what it does meanwhile, heals, and waits for it to follow again."""
    client = topo.client
    old = client.wait_leader(group)
    if not old:
        failures.append(f"{group.name}: no leader before the partition")
        return
    leader = group.member(old)
    followers = [m for m in group.members if m is not leader]
    before = client.raft_status(old)
    cut_ms, t_cut = now_ms(), time.monotonic()
    leader.host.partition([f.host for f in followers])
    say(start, f"{group.name}: leader {old} (term {before['term']}, commit {before['commit_index']}) "
               f"cut off from its followers")

    # Watch both sides until the fault's end: the old leader's role and commit
    # index, and the majority's new leader.
    stepped_down_s = new_leader_s = None
    first_commit = max_commit = commit_at_step_down = None
    majority_commit = 0
    led_again = advanced_after_step_down = False
    while time.monotonic() - t_cut < PARTITION_S:
        s = client.raft_status(old)
        if s is not None:
            first_commit = s["commit_index"] if first_commit is None else first_commit
            max_commit = max(max_commit or 0, s["commit_index"])
            if s["role"] != "leader" and stepped_down_s is None:
                stepped_down_s = time.monotonic() - t_cut
                commit_at_step_down = s["commit_index"]
            elif s["role"] == "leader" and stepped_down_s is not None:
                led_again = True
            if commit_at_step_down is not None and s["commit_index"] != commit_at_step_down:
                advanced_after_step_down = True
        if new_leader_s is None and client.leader_of(group, exclude=(old,)):
            new_leader_s = time.monotonic() - t_cut
        for f in followers:
            fs = client.raft_status(f.address)
            if fs:
                majority_commit = max(majority_commit, fs["commit_index"])
        time.sleep(0.05)  # a sample every 50 ms for the partition's whole length: "never leads again" is watched
    committed_during = load.committed_at(now_ms()) - load.committed_at(cut_ms + 1000 * ELECTION_BOUND_S)
    digest_isolated = client.digests(group).get(old) if bank else None
    leader.host.heal()
    healed_s = time.monotonic() - t_cut
    say(start, f"{group.name}: healed after {healed_s:.1f} s; old leader stepped down after "
               f"{stepped_down_s if stepped_down_s is None else round(stepped_down_s, 2)} s, new leader after "
               f"{new_leader_s if new_leader_s is None else round(new_leader_s, 2)} s; old leader's commit index "
               f"{first_commit}..{max_commit} (majority's {majority_commit}); {committed_during} transfers committed "
               f"meanwhile" + (f"; its digest while cut off {digest_isolated}" if bank else ""))

    for key, value in (("stepped_down_s", stepped_down_s), ("new_leader_s", new_leader_s),
                       ("committed_while_cut", committed_during)):
        sc.figure(f"{group.name}.{key}", value)
    if stepped_down_s is None or stepped_down_s > STEP_DOWN_BOUND_S:
        failures.append(f"{group.name}: the cut-off leader did not step down within {STEP_DOWN_BOUND_S} s")
    if led_again:
        failures.append(f"{group.name}: the cut-off leader called itself leader again while cut off")
    # Acknowledgements that reached it before the cut may still raise its
    # commit index until it steps down; nothing may after that, and it never
    # passes what the majority holds.
    if first_commit is None:
        failures.append(f"{group.name}: the cut-off leader never answered Raft.status")
    elif advanced_after_step_down:
        failures.append(f"{group.name}: the cut-off leader's commit index advanced after it stepped down "
                        f"({commit_at_step_down} -> {max_commit})")
    elif max_commit > majority_commit:
        failures.append(f"{group.name}: the cut-off leader's commit index {max_commit} passed the majority's "
                        f"{majority_commit}")
    if new_leader_s is None or new_leader_s > ELECTION_BOUND_S:
        failures.append(f"{group.name}: the majority elected no leader within {ELECTION_BOUND_S} s")
    if committed_during <= 0:
        failures.append(f"{group.name}: no transfer committed while its old leader was cut off")

    # After the heal the old leader follows the new term's leader.
    def follows():
        s = client.raft_status(old)
        return s is not None and s["role"] == "follower" and s["leader"] not in (None, old)
    if not poll(follows, 15):
        failures.append(f"{group.name}: {old} does not follow a new leader 15 s after the heal")


def main():
    with Scenario("group_leader_partition") as sc:
        start = time.monotonic()
        failures = []
        topo, before = start_with_two_banks(sc, 3, (("a", 3), ("b", 1)), ACCOUNTS, OPENING)
        coordinators, (bank_a, bank_b) = topo.coordinator, topo.banks
        client = topo.client
        say(start, f"coordinators {coordinators.addresses}; bank-a {bank_a.addresses}; bank-b "
                   f"{bank_b.addresses}; total money {before}")
        load = start_transfers(sc.harpc, topo, coordinators.target, ACCOUNTS, LOAD_S, TXN_TIMEOUT_MS, 8,
                               sc.path("transfer.log"))
        if not poll(lambda: (load.latest() or {}).get("committed", 0) >= 40, 20):
            raise RuntimeError("fewer than 40 transfers committed in 20 s")

        cut_leader(sc, start, topo, bank_a, load, failures, bank=True)
        cut_leader(sc, start, topo, coordinators, load, failures, bank=False)

        check_transfers_end(sc, start, topo, load, before, LOAD_S, IN_DOUBT_DEADLINE_S, failures)
        digest = client.wait_digests_agree(bank_a, AGREE_DEADLINE_S)
        logs = client.wait_logs_agree(coordinators, AGREE_DEADLINE_S)
        say(start, f"bank-a members agree on {digest}; coordinators on (commit, applied) {logs}")
        if digest is None:
            failures.append(f"bank-a's members disagree: {client.digests(bank_a)}")
        if logs is None:
            failures.append("the coordinators' commit and applied indexes disagree")
        if failures:
            raise AssertionError("; ".join(failures))


if __name__ == "__main__":
    main()
