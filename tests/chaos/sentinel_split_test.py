# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Chaos: a group of three sentinels split 2 | 1.

Hosts s1, s2, s3 run one sentinel each; e1 and e2 run echo servers registered
with all three. s3 is cut off from everyone else (both directions), then e1
is killed with SIGKILL. Invariants:

- the minority (s3) never declares ODOWN: during and after the split its
  registry, its events, its metrics, its alerts (--notify) and its log show
  no decision of its own, and never e2 (alive) as odown; its epoch does not
  move while it is alone;
- the majority (s1, s2) declares e1 ODOWN (it is truly dead on their side)
  within down-after + a few probe intervals + an election;
- after healing, the three converge: the same epoch, and the same state,
  decision epoch and leader for each instance;
- then nothing flaps: no new event, state or epoch on any sentinel for a
  stable window.
"""

import json
import time

from cluster import Scenario, SENTINEL_PORT
from netns import wait_until

DOWN_AFTER_MS = 1500
PROBE_MS = 250
STABLE_WINDOW_S = 6.0


def instances(net, sentinel):
    """{address: instance} of the echo service as this sentinel lists it."""
    status, body = net.rpc(sentinel.address, "Registry.list")
    if status != 200:
        raise RuntimeError(f"Registry.list on {sentinel.address}: HTTP {status} {body}")
    return body, {i["address"]: i for i in body.get("services", {}).get("echo", [])}


def states(net, sentinel):
    return {address: i["state"] for address, i in instances(net, sentinel)[1].items()}


def events(net, sentinel):
    status, body = net.rpc(sentinel.address, "Sentinel.events", {"limit": 200})
    if status != 200:
        raise RuntimeError(f"Sentinel.events on {sentinel.address}: HTTP {status} {body}")
    return body["events"] if isinstance(body, dict) else body


def view(net, sentinel):
    """What must agree across the group: the epoch and, per instance, its
    state and the decision held on it (Sentinel.opinion: epoch, leader)."""
    body, listed = instances(net, sentinel)
    decisions = {}
    for address, instance in sorted(listed.items()):
        status, opinion = net.rpc(sentinel.address, "Sentinel.opinion", {"service": "echo", "address": address})
        if status != 200:
            raise RuntimeError(f"Sentinel.opinion on {sentinel.address}: HTTP {status} {opinion}")
        decisions[address] = (instance["state"], opinion["odown"], opinion["epoch"], opinion["leader"])
    return {"epoch": body["epoch"], "instances": decisions}


def main():
    with Scenario("sentinel_split") as sc:
        net = sc.net
        hosts = [net.add_host(n) for n in ("s1", "s2", "s3")]
        e1_host, e2_host = net.add_host("e1"), net.add_host("e2")
        addresses = [f"{h.address}:{SENTINEL_PORT}" for h in hosts]
        sentinels = []
        for host, address in zip(hosts, addresses):
            alerts = sc.path(f"alerts-{host.name}.jsonl")
            sentinels.append(sc.sentinel(
                host, [a for a in addresses if a != address],
                "--down-after-ms", str(DOWN_AFTER_MS), "--probe-interval-ms", str(PROBE_MS),
                "--notify", f"cat >> {alerts}"))
        s1, s2, s3 = sentinels
        register = ["--register", "sentinel://" + ",".join(addresses), "--lease-ttl-ms", "60000"]
        e1 = sc.serve(e1_host, *register)
        e2 = sc.serve(e2_host, *register)

        every_up = {e1.address: "up", e2.address: "up"}
        for s in sentinels:
            wait_until(lambda: states(net, s) == every_up, 15, f"{s.address} to list e1 and e2 up")

        # The split: s3 alone. It must come to hold both servers SDOWN, and
        # never get further than that.
        s3_host = hosts[2]
        s3_host.partition([hosts[0], hosts[1], e1_host, e2_host])
        split_at = time.monotonic()
        minority_seen = set()

        def check_minority():
            now = states(net, s3)
            minority_seen.update(now.values())
            assert "odown" not in now.values(), f"the minority declared ODOWN during the split: {now}"
            return now

        wait_until(lambda: set(check_minority().values()) == {"sdown"}, DOWN_AFTER_MS / 1000 + 10,
                   "the minority to hold both servers SDOWN")
        sc.figure("minority_sdown_s", time.monotonic() - split_at)

        # e1 dies on the majority's side.
        e1.process.kill()
        killed_at = time.monotonic()

        def majority_odown():
            check_minority()
            return all(states(net, s).get(e1.address) == "odown" for s in (s1, s2))

        wait_until(majority_odown, DOWN_AFTER_MS / 1000 + 15, "the majority to declare e1 ODOWN")
        sc.figure("majority_odown_s", time.monotonic() - killed_at)
        for s in (s1, s2):
            assert states(net, s).get(e2.address) == "up", f"{s.address} lost e2: {states(net, s)}"

        # Hold the split a while longer: the minority keeps trying, and must fail.
        hold_until = time.monotonic() + 4.0
        while time.monotonic() < hold_until:
            check_minority()
            time.sleep(0.1)  # the split's length is under test: "the minority never declares ODOWN" is watched

        minority_metrics = net.metrics(s3.address)
        assert minority_metrics.get('harpc_sentinel_events_total{event="odown"}', 0) == 0 \
            and minority_metrics.get("harpc_sentinel_alerts_total", 0) == 0, \
            f"the minority counted ODOWN events or alerts during the split: {minority_metrics}"
        assert minority_metrics.get("harpc_sentinel_epoch") == 0, "the minority moved its epoch alone"

        s3_host.heal()
        healed_at = time.monotonic()

        def converged():
            views = [view(net, s) for s in sentinels]
            target = views[0]
            agreed = all(v == target for v in views)
            expected = {e1.address: "odown", e2.address: "up"}
            return agreed and {a: st[0] for a, st in target["instances"].items()} == expected and views

        views = wait_until(converged, 20, "the three sentinels to agree after healing", interval=0.1)
        sc.figure("converged_s", time.monotonic() - healed_at)
        sc.figure("epoch", views[0]["epoch"])

        # No flapping: nothing changes on any sentinel for a stable window.
        baseline = [(view(net, s), events(net, s)[:1]) for s in sentinels]
        stable_until = time.monotonic() + STABLE_WINDOW_S
        while time.monotonic() < stable_until:
            for s, before in zip(sentinels, baseline):
                now = (view(net, s), events(net, s)[:1])
                assert now == before, f"{s.address} changed in the stable window:\n{before}\n{now}"
            time.sleep(0.25)

        # The minority never told or logged an ODOWN of its own, and never
        # held the living e2 down objectively.
        with open(sc.path("alerts-s3.jsonl"), "a+") as f:
            f.seek(0)
            own_alerts = [json.loads(line) for line in f if line.strip()]
        assert not [a for a in own_alerts if a.get("event") == "odown"], f"s3 alerted ODOWN: {own_alerts}"
        logged = [json.loads(line.split("sentinel event ", 1)[1])
                  for line in s3.log().splitlines() if "sentinel event " in line]
        for event in events(net, s3) + logged:
            if event.get("event") == "odown":
                # A decision s3 adopted after healing names its leader in "sentinel".
                assert event.get("address") == e1.address, f"s3 recorded ODOWN of a live instance: {event}"
                assert event.get("sentinel") != s3.address, f"s3 declared ODOWN itself: {event}"
        leaders = {st[3] for st in views[0]["instances"].values() if st[1]}
        assert s3.address not in leaders, f"s3 leads an ODOWN decision: {views[0]}"
        majority_alerts = []
        for name in ("s1", "s2"):
            with open(sc.path(f"alerts-{name}.jsonl"), "a+") as f:
                f.seek(0)
                majority_alerts += [json.loads(line) for line in f if line.strip()]
        odown_alerts = [a for a in majority_alerts if a.get("event") == "odown"]
        assert len(odown_alerts) == 1 and odown_alerts[0]["address"] == e1.address, \
            f"the majority should alert e1's ODOWN exactly once: {majority_alerts}"
        sc.figure("minority_states_seen", sorted(minority_seen))


if __name__ == "__main__":
    main()
