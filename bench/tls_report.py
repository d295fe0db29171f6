#!/usr/bin/env python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Turns bench/tls.sh's results directory into a markdown summary.

usage: tls_report.py RESULTS_DIR OUT

Prints the summary; unless OUT is "-", also writes it into OUT between the
"tls results" markers, leaving the rest of OUT as it is.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import best, num, ratio, report_main, rounds_text, verdict  # noqa: E402

BEGIN = "<!-- bench:tls-results:begin (written by bench/tls.sh; edit outside the markers) -->"
END = "<!-- bench:tls-results:end -->"

TARGET_VS_NGINX = 0.9  # harpc over HTTPS >= 0.9x nginx over HTTPS
MAX_TLS_COST = 0.15    # harpc over TLS loses at most 15 % against harpc in plaintext


def render(d, meta, rounds, w):
    w(f"Run: `{meta.get('command', 'bench/tls.sh')}` on {meta.get('date', '?')}, {meta.get('elapsed_s', '?')} s; "
      f"{meta.get('busy_before', '?')} % busy before, load {meta.get('load_before', '?')} before and "
      f"{meta.get('load_after', '?')} after. {meta.get('openssl', 'OpenSSL')}, nginx {meta.get('nginx', '?')}, "
      f"gRPC C++ {meta.get('grpc') or 'absent'}, harpc {meta.get('harpc', '?')}. Servers on core 0, load on core 1; "
      f"best of {rounds} alternating rounds; TLS 1.3, P-256 certificate.")
    w("")
    w(f"### a) wrk -t1 -c50 -d{meta.get('wrk_duration', 10)}s, POST /rpc, keep-alive")
    w("")
    w("| server | requests/s (each round) | best | p99 ms |")
    w("| --- | --- | ---: | ---: |")
    cells = {}
    for key, name in (("harpc_tls", "harpc serve, HTTPS"), ("nginx_tls", "nginx `return 200`, HTTPS"),
                      ("harpc_plain", "harpc serve, HTTP (same run)")):
        top, runs = best(d, f"wrk_{key}", "rps", rounds)
        cells[key] = top
        w(f"| {name} | {rounds_text(runs)} | {num(top and top['rps'])} | "
          f"{num(top and top['latency_ms']['p99'], '{:.2f}')} |")
    h, n, p = (cells[k] and cells[k]["rps"] for k in ("harpc_tls", "nginx_tls", "harpc_plain"))
    vs_nginx = ratio(h, n)
    cost = None if ratio(h, p) is None else 1 - ratio(h, p)
    w("")
    w(f"harpc / nginx over HTTPS: {num(vs_nginx, '{:.2f}')}x (target >= {TARGET_VS_NGINX}x: "
      f"{verdict(None if vs_nginx is None else vs_nginx >= TARGET_VS_NGINX)}). "
      f"TLS cost on harpc serve: {num(cost and cost * 100, '{:.1f}')} %.")
    w("")
    w("### b) closed-loop RPC, 16 B, over TLS")
    w("")
    w("| callers | harpc TLS qps (p50 / p99 ms) | gRPC TLS qps (p50 / p99 ms) | harpc / gRPC | "
      "harpc plaintext qps | TLS cost (target <= 15 %) |")
    w("| ---: | ---: | ---: | ---: | ---: | --- |")
    for c in (1, 64):
        ht, _ = best(d, f"rpc_harpc_tls_{c}", "qps", rounds)
        gt, _ = best(d, f"rpc_grpc_tls_{c}", "qps", rounds)
        hp, _ = best(d, f"rpc_harpc_plain_{c}", "qps", rounds)

        def cell(r):
            if not r:
                return "n/a"
            lat = r.get("latency_ms") or {}
            return f"{r['qps']:,.0f} ({lat.get('p50', 0):.3f} / {lat.get('p99', 0):.3f})"
        q = [r and r["qps"] for r in (ht, gt, hp)]
        rpc_cost = None if ratio(q[0], q[2]) is None else 1 - ratio(q[0], q[2])
        w(f"| {c} | {cell(ht)} | {cell(gt)} | {num(ratio(q[0], q[1]), '{:.2f}')}x | {num(q[2])} | "
          f"{num(rpc_cost and rpc_cost * 100, '{:.1f}')} % "
          f"{verdict(None if rpc_cost is None else rpc_cost <= MAX_TLS_COST)} |")
    w("")
    w("### c) handshakes: wrk with `Connection: close` over HTTPS (one full handshake per request)")
    w("")
    w("| server | new connections/s (each round) | best |")
    w("| --- | --- | ---: |")
    hs = {}
    for key, name in (("harpc_handshake", "harpc serve"), ("nginx_handshake", "nginx")):
        top, runs = best(d, f"wrk_{key}", "rps", rounds)
        hs[key] = top and top["rps"]
        w(f"| {name} | {rounds_text(runs)} | {num(hs[key])} |")
    w("")
    w(f"harpc / nginx: {num(ratio(hs['harpc_handshake'], hs['nginx_handshake']), '{:.2f}')}x.")


if __name__ == "__main__":
    sys.exit(report_main(__doc__, render, BEGIN, END, "bench-tls"))
