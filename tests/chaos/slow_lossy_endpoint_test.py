"""Chaos: one endpoint of three is slow and lossy.

Hosts e1, e2, e3 run echo servers. Host px runs a DelayProxy to e3 that
holds every chunk 200 ms +- 50 ms, and host c (the client) loses 5 % of its
packets to px at random (nftables). The client knows e3 only through px.

Invariant: with least_time and hedging (after the recent p95), the client's
p99 over e1, e2 and the slow endpoint stays within 2 x the p99 measured
against e1 and e2 alone, in the same run: baseline, mixed, baseline again,
and the mean of the two baselines is the reference, so a load on the machine
that drifts during the run weighs on both sides alike. The fault is checked
to be real first: calls through px alone take at least 2 x (200 - 50) ms.
"""

from cluster import Scenario, PORT
from netns import DelayProxy

DELAY_MS, JITTER_MS, LOSS_PERCENT = 200, 50, 5
PROXY_PORT = 9000
DURATION_S = 8
CHANNEL = ["--lb", "least_time", "--hedge-ms", "p95", "--idempotent"]


def main():
    with Scenario("slow_lossy_endpoint") as sc:
        net = sc.net
        servers = [sc.serve(net.add_host(name)) for name in ("e1", "e2", "e3")]
        proxy_host, client = net.add_host("px"), net.add_host("c")
        proxy = DelayProxy(proxy_host, PROXY_PORT, servers[2].address, DELAY_MS, JITTER_MS,
                           sc.path("delay-proxy.log"))
        client.loss(LOSS_PERCENT, peers=[proxy_host])
        healthy = "list://" + ",".join(s.address for s in servers[:2])
        mixed = f"{healthy},{proxy.address}"

        slow_only = sc.bench(client, f"list://{proxy.address}", 30, concurrency=1, requests=20,
                             channel=["--timeout-ms", "5000", "--retries", "0"])
        sc.figure("slow_endpoint_alone_p50_ms", slow_only["latency_ms"]["p50"])
        assert slow_only["latency_ms"]["p50"] >= 2 * (DELAY_MS - JITTER_MS) * 0.94, \
            f"the delay proxy does not delay: {slow_only}"

        baselines = [sc.bench(client, healthy, DURATION_S, channel=CHANNEL)]
        report = sc.bench(client, mixed, DURATION_S, channel=CHANNEL)
        baselines.append(sc.bench(client, healthy, DURATION_S, channel=CHANNEL))

        baseline_p99 = sum(b["latency_ms"]["p99"] for b in baselines) / len(baselines)
        p99 = report["latency_ms"]["p99"]
        sc.figure("healthy_p99_ms", [b["latency_ms"]["p99"] for b in baselines])
        sc.figure("mixed_p99_ms", p99)
        sc.figure("mixed_p50_ms", report["latency_ms"]["p50"])
        sc.figure("mixed_max_ms", report["latency_ms"]["max"])
        sc.figure("mixed_calls", report["requests"])
        sc.figure("mixed_hedges", report["hedges"])
        sc.figure("slow_endpoint_answers", report["per_endpoint"][proxy.address])
        for b in baselines + [report]:
            assert b["errors"] == 0, f"calls failed: {b}"
        assert p99 <= 2 * baseline_p99, \
            f"p99 with the slow endpoint {p99} ms > 2 x {baseline_p99} ms without it: {report}"


if __name__ == "__main__":
    main()
