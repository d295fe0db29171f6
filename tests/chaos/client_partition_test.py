# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Chaos: a client cut off one way from one of three servers.

Hosts e1, e2, e3 run echo servers; host c runs a steady `harpc bench` of
idempotent calls with hedging over list://e1,e2,e3. The partition is made at
c's own link and only between c and e3, so e3 stays alive and reachable from
everywhere else (the observer checks it answers throughout).

Phase "answers lost": e3's packets to c are dropped (c's input); phase
"requests lost": c's packets to e3 are dropped (c's output). Either way a
connection that was open stops answering and a new one cannot be made. The
ejection and readmission times come from the channel's own log of each
endpoint's health (`endpoint H:P: heartbeat healthy -> unhealthy`).

Invariants:
- no call fails in either phase (every call is idempotent and hedged);
- c ejects e3 within the documented bound: a server that stops answering is
  out within (fall + 1) x health interval of the fault (docs/high-availability.md);
- after healing, c readmits e3 within max_backoff + rise x interval.
"""

import time
from datetime import datetime

from cluster import Scenario
from netns import wait_until

HEALTH_MS = 500
FALL, RISE = 2, 2
MAX_BACKOFF_S = 2.0
EJECTION_BOUND_S = (FALL + 1) * HEALTH_MS / 1000
READMISSION_BOUND_S = MAX_BACKOFF_S + RISE * HEALTH_MS / 1000
SLACK_S = 0.5  # scheduling on a loaded two-core machine
HOLD_S = 5.0  # how long each partition lasts
CHANNEL = ["--idempotent", "--hedge-ms", "50", "--health-interval-ms", str(HEALTH_MS), "--timeout-ms", "1000"]


def calls_received(net, server):
    """Echo.echo calls the server answered, whatever their status code."""
    prefix = 'harpc_server_requests_total{method="Echo.echo",'
    return sum(v for k, v in net.metrics(server.address).items() if k.startswith(prefix))


def endpoint_events(log_text, address):
    """The channel's log of an endpoint's health: [(unix time, what)], e.g.
    "heartbeat healthy -> unhealthy", "ejected (ejection #1) ...", "circuit open"."""
    prefix = f" info endpoint {address}: "
    found = []
    for line in log_text.splitlines():
        if prefix in line:
            stamp, what = line.split(prefix, 1)
            found.append((datetime.strptime(stamp.strip(), "%Y-%m-%dT%H:%M:%S.%f").timestamp(), what))
    return found


def taken_out(what):
    return what.endswith("-> unhealthy") or what.startswith("ejected") or what == "circuit open"


def run_phase(sc, client, target, e3, e3_host, direction, label):
    """A steady load; c cut from e3 in `direction` for HOLD_S; healed. Returns
    (bench report, ejection s, readmission s) from the channel's own log."""
    net = sc.net
    before = calls_received(net, e3)
    bench = sc.start_bench(client, target, duration=2 + HOLD_S + READMISSION_BOUND_S + 3,
                           channel=CHANNEL, label=f"bench-{label}")
    wait_until(lambda: calls_received(net, e3) > before + 100, 15, "the load to reach e3")
    client.partition([e3_host], direction=direction)
    cut_at = time.time()
    time.sleep(HOLD_S)  # the fault's length is part of the scenario
    assert net.answers(e3.address), "e3 must stay reachable from outside the partition"
    client.heal()
    healed_at = time.time()
    readmitted = wait_until(
        lambda: [t for t, what in endpoint_events(bench.log(), e3.address)
                 if t >= healed_at and what.endswith("-> healthy")],
        READMISSION_BOUND_S + SLACK_S + 2, f"c to readmit e3 ({label})")[0]
    report = sc.finish_bench(bench, timeout=30)
    out = [t for t, what in endpoint_events(bench.log(), e3.address) if t >= cut_at and taken_out(what)]
    assert out, f"c never took e3 out ({label}): {endpoint_events(bench.log(), e3.address)}"
    return report, out[0] - cut_at, readmitted - healed_at


def main():
    with Scenario("client_partition") as sc:
        net = sc.net
        servers = [sc.serve(net.add_host(name)) for name in ("e1", "e2", "e3")]
        e3, e3_host = servers[2], net.hosts[2]
        client = net.add_host("c")
        target = "list://" + ",".join(s.address for s in servers)
        for direction, label in (("in", "answers_lost"), ("out", "requests_lost")):
            report, ejection_s, readmission_s = run_phase(sc, client, target, e3, e3_host, direction, label)
            sc.figure(f"{label}_ejection_s", ejection_s)
            sc.figure(f"{label}_readmission_s", readmission_s)
            sc.figure(f"{label}_calls", report["requests"])
            sc.figure(f"{label}_hedges", report["hedges"])
            sc.figure(f"{label}_p99_ms", report["latency_ms"]["p99"])
            assert report["errors"] == 0, f"calls failed ({label}): {report}"
            assert ejection_s <= EJECTION_BOUND_S + SLACK_S, \
                f"e3 taken out after {ejection_s:.2f} s ({label}); documented bound {EJECTION_BOUND_S} s"
            assert readmission_s <= READMISSION_BOUND_S + SLACK_S, \
                f"e3 readmitted after {readmission_s:.2f} s ({label}); bound {READMISSION_BOUND_S} s"
            assert report["per_endpoint"][e3.address] > 0


if __name__ == "__main__":
    main()
