#!/usr/bin/env python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Turns bench/run.sh's results directory into a markdown summary.

usage: report.py RESULTS_DIR OUT

Prints the summary; unless OUT is "-", also writes it into OUT between the
markers below (creating OUT, or appending the markers, when they are missing),
leaving the rest of OUT as it is.
"""
import json
import os
import sys

BEGIN = "<!-- bench:results:begin (written by bench/run.sh; edit outside the markers) -->"
END = "<!-- bench:results:end -->"

TARGET_WRK = 0.8       # harpc requests/s >= 0.8x nginx
TARGET_KIB = 10.0      # <= 10 KiB per idle keep-alive connection


def load(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def best(d, stem, key, rounds):
    """The round with the highest `key` among STEM_rN, and every round as
    (value, server CPU %, client CPU %)."""
    runs = []
    for r in range(1, rounds + 1):
        res = load(d, f"{stem}_r{r}.json")
        if res and res.get(key) is not None:
            cpu = load(d, f"cpu_{stem}_r{r}.json") or {}
            runs.append((res, cpu.get("server_cpu_pct"), cpu.get("client_cpu_pct")))
    if not runs:
        return None, []
    top = max(runs, key=lambda rc: rc[0][key])
    top[0]["_server_cpu_pct"] = top[1]
    top[0]["_client_cpu_pct"] = top[2]
    return top[0], [(rc[0][key], rc[1], rc[2]) for rc in runs]


def rounds_text(values):
    """'118,572 (s 99 %, c 80 %) / ...': each round's figure with the CPU share of its
    core that the server (s) and the load generator (c) used."""
    if not values:
        return "n/a"
    out = []
    for v, scpu, ccpu in values:
        cpu = [f"{tag} {x:.0f} %" for tag, x in (("s", scpu), ("c", ccpu)) if x is not None]
        out.append(f"{v:,.0f}" + (f" ({', '.join(cpu)})" if cpu else ""))
    return " / ".join(out)


def cpu_us(res, key, which):
    """CPU microseconds per request of the server or client ("_server_cpu_pct" /
    "_client_cpu_pct") in that round: robust to other jobs stealing the core."""
    if not res or not res.get(key) or res.get(which) is None:
        return None
    return res[which] / 100.0 / res[key] * 1e6


def num(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def write_between(out, begin, end, text):
    """Puts `text` into file `out` between the markers `begin` and `end`
    (appended with its markers when they are missing), the rest unchanged."""
    block = begin + "\n" + text + end
    try:
        with open(out) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = "# harpc benchmarks\n\n"
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(out, "w") as f:
        f.write(doc)


PARTS = ("wrk", "pinned", "unpinned", "memory")
# RPC sides: result-file name and the name shown; harpc first, then its peers.
RPC_SIDES = (("harpc", "harpc"), ("brpc", "bRPC"), ("grpc", "gRPC"))
RPC_MODES = {
    "pinned": (
        "pinned: server on core {server_cpu} with one event loop, client on core {load_cpu}",
        "harpc: `harpc bench --method Echo.echo --data '{\"p\":\"<payload>\"}' --retries 0` -> "
        "`harpc serve --threads 1`. bRPC: `echo_client` (one pthread for one caller, else one bthread "
        "per caller; baidu_std over one connection; 1 s deadline, no retries) -> `echo_server` "
        "(its default bthread workers, all confined to the server's core). gRPC: "
        "`harpc_grpc_echo_client` (async, one completion queue, one channel) -> "
        "`harpc_grpc_echo_server` (async, one completion-queue thread)."),
    "unpinned": (
        "unpinned: servers and clients share cores {server_cpu} and {load_cpu}",
        "The same clients, now free to use both cores (harpc's with `--threads 2`: two event "
        "loops, the callers dealt out between them, for 2 callers or more; gRPC's polls from one "
        "thread; bRPC's runs its bthread workers); servers: `harpc serve --threads 2`, "
        "`echo_server` with its default bthread workers, `harpc_grpc_echo_server --threads 2` "
        "(two completion queues, a thread each)."),
}


def payload_label(size):
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def header(w, meta):
    w(f"Run: `{meta.get('command', 'bench/run.sh')}` on {meta.get('date', '?')}, "
      f"{meta.get('elapsed_s', '?')} s in all.")
    w("")
    w(f"Machine: {meta.get('cores', '?')} cores ({meta.get('cpu', '?')}), Linux {meta.get('kernel', '?')}; "
      f"shared with other jobs, so noisy ({meta.get('busy_before', '?')} % busy just before the run; "
      f"load average {meta.get('load_before', '?')} before, "
      f"{meta.get('load_after', '?')} after). Unless a table says otherwise, servers are pinned to core "
      f"{meta.get('server_cpu', 0)} and load generators to core {meta.get('load_cpu', 1)}; the sides of "
      f"each comparison ran back to back, rotating their order over {meta.get('rounds', 1)} rounds. "
      f"Peers: nginx {meta.get('nginx') or 'absent'}, bRPC {meta.get('brpc') or 'absent'}, "
      f"gRPC C++ {meta.get('grpc') or 'absent'}, "
      f"{meta.get('wrk') or 'wrk absent'}; harpc {meta.get('harpc', '?')}.")
    w("")


def wrk_section(w, d, meta, rounds):
    h, h_all = best(d, "wrk_harpc", "rps", rounds)
    n, n_all = best(d, "wrk_nginx", "rps", rounds)
    w(f"### a) HTTP: wrk -t1 -c50 -d{meta.get('wrk_duration', 10)}s, POST /rpc `{{\"key\":\"value\"}}`")
    w("")
    w(f"Best of {rounds} alternating rounds per side. Last column: every round's figure, with the "
      "share of its core that the server (s) and the load generator (c) used in that round. "
      "Whichever side is near 100 % is the limit; when neither is, other jobs on this machine "
      "took the cores.")
    w("")
    w("| server (1 thread, core 0) | requests/s | p50 ms | p99 ms | errors | requests/s, each round |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r, alls in (("harpc serve --threads 1", h, h_all), ("nginx, 1 worker, `return 200`", n, n_all)):
        if r:
            errs = r["non_2xx"] + r["socket_errors"]
            w(f"| {name} | {num(r['rps'])} | {r['latency_ms']['p50']:.3f} | {r['latency_ms']['p99']:.3f} | "
              f"{errs} | {rounds_text(alls)} |")
        else:
            w(f"| {name} | n/a | n/a | n/a | n/a | n/a |")
    rw = ratio(h and h["rps"], n and n["rps"])
    w("")
    w(f"harpc / nginx = **{num(rw, '{:.2f}')}x** (target >= {TARGET_WRK}x): "
      f"{verdict(None if rw is None else rw >= TARGET_WRK)}")
    hs, ns_ = cpu_us(h, "rps", "_server_cpu_pct"), cpu_us(n, "rps", "_server_cpu_pct")
    w("")
    w(f"Server CPU per request (same rounds; less is better, and unlike requests/s it does not "
      f"drop when other jobs take the core): harpc {num(hs, '{:.2f}')} us, nginx {num(ns_, '{:.2f}')} us, "
      f"nginx / harpc = {num(ratio(ns_, hs), '{:.2f}x')}, i.e. harpc would serve "
      f"{num(ratio(ns_, hs), '{:.2f}x')} of nginx's requests/s with a whole core each "
      f"(target >= {TARGET_WRK}x: {verdict(None if ratio(ns_, hs) is None else ratio(ns_, hs) >= TARGET_WRK)}).")
    disturbed = [name for name, r in (("harpc", h), ("nginx", n))
                 if r and r.get("_server_cpu_pct") is not None and r["_server_cpu_pct"] < 90]
    if disturbed:
        w("")
        w(f"Caution: even the best round of {' and '.join(disturbed)} got less than 90 % of its core; "
          "other jobs took the rest, so this ratio is not reliable. Run again on a quieter machine.")
    w("")


def rpc_cells(d, meta, mode, rounds):
    """Per cell (payload, callers): {side: (best round's result, every round)}."""
    cells = []
    for size in meta.get("rpc_payloads", (16, 1024, 16384)):
        for c in meta.get("rpc_callers", (1, 64, 256)):
            cells.append((size, c, {side: best(d, f"rpc_{mode}_{side}_{size}_{c}", "qps", rounds)
                                    for side, _ in RPC_SIDES}))
    return cells


def p99(res):
    return res["latency_ms"]["p99"] if res and res.get("latency_ms") else None


def rpc_section(w, d, meta, mode, rounds):
    title, setup = RPC_MODES[mode]
    w(f"### b) RPC, {title.format(**{k: meta.get(k, v) for k, v in (('server_cpu', 0), ('load_cpu', 1))})}")
    w("")
    w(f"Closed loop: each caller sends its next call when the last one answered; one client process, "
      f"{rounds} rotating rounds of {meta.get('rpc_duration', '?')} s per side and cell, best round "
      "shown. p99: wall time of each call, start to answer, in ms (harpc and gRPC from harpc's "
      "latency histogram, bRPC exact). The best peer is the one with the most QPS; harpc's p99 is "
      "compared with the lowest p99 of the peers.")
    w("")
    w(setup)
    w("")
    flags = meta.get("harpc_client_flags")
    w(f"harpc's client: `harpc bench ... --retries 0{' ' + flags if flags else ''}`.")
    w("")
    names = [name for _, name in RPC_SIDES]
    w("| payload | callers | " + " | ".join(f"{n} QPS | {n} p99 ms" for n in names)
      + " | harpc / best peer | p99 <= peers' best |")
    w("| ---: | ---: | " + " | ".join("---: | ---:" for _ in names) + " | ---: | :---: |")
    cells = rpc_cells(d, meta, mode, rounds)
    for size, c, by_side in cells:
        res = {side: by_side[side][0] for side, _ in RPC_SIDES}
        cols = []
        for side, _ in RPC_SIDES:
            r = res[side]
            cols.append(f"{num(r and r.get('qps'))} | {num(p99(r), '{:.3f}')}")
        peers = [(res[side]["qps"], name) for side, name in RPC_SIDES[1:] if res[side]]
        top = max(peers) if peers else None
        q = ratio(res["harpc"] and res["harpc"]["qps"], top and top[0])
        peer_p99s = [p99(res[side]) for side, _ in RPC_SIDES[1:] if p99(res[side]) is not None]
        h99 = p99(res["harpc"])
        tail = None if h99 is None or not peer_p99s else h99 <= min(peer_p99s)
        errors = {name: res[side].get("errors", 0) for side, name in RPC_SIDES if res[side]}
        note = ""
        if any(errors.values()):
            note = " (errors: " + ", ".join(f"{n} {e}" for n, e in errors.items()) + ")"
        w(f"| {payload_label(size)} | {c} | {' | '.join(cols)} | "
          f"{'n/a' if q is None else f'{q:.2f}x ({top[1]})'} | {verdict(tail)}{note} |")
    w("")
    cores = "one core" if mode == "pinned" else "both cores: 200 % is all of them"
    w(f"CPU per call in the same rounds, in microseconds (less is better; unlike QPS, robust to "
      f"other jobs taking the cores), then the QPS of every round with the CPU share the server (s) "
      f"and the client (c) used, in % of one core ({cores}); p50 in ms:")
    w("")
    w("| payload | callers | " + " | ".join(f"{n} server | {n} client" for n in names) + " | "
      + " | ".join(f"{n} QPS, each round | {n} p50" for n in names) + " |")
    w("| ---: | ---: | " + " | ".join("---: | ---:" for _ in names) + " | "
      + " | ".join("---: | ---:" for _ in names) + " |")
    for size, c, by_side in cells:
        cpu, detail = [], []
        for side, _ in RPC_SIDES:
            r, alls = by_side[side]
            cpu.append(f"{num(cpu_us(r, 'qps', '_server_cpu_pct'), '{:.2f}')} | "
                       f"{num(cpu_us(r, 'qps', '_client_cpu_pct'), '{:.2f}')}")
            p50 = r["latency_ms"]["p50"] if r and r.get("latency_ms") else None
            detail.append(f"{rounds_text(alls)} | {num(p50, '{:.3f}')}")
        w(f"| {payload_label(size)} | {c} | {' | '.join(cpu)} | {' | '.join(detail)} |")
    w("")


def memory_section(w, d):
    w("### c) Memory per idle keep-alive connection")
    w("")
    w("VmRSS of the server process before and after opening the connections (each sent one "
      "request, read the answer, then stayed idle); per connection = (after - before) / connections. "
      "For nginx, the worker process (the master holds no connections).")
    w("")
    w("| server | connections | RSS before KiB | RSS after KiB | KiB per connection | target <= 10 KiB |")
    w("| --- | ---: | ---: | ---: | ---: | :---: |")
    for name, key in (("harpc serve --threads 1", "harpc"), ("nginx, 1 worker", "nginx")):
        m = load(d, f"mem_{key}.json")
        if m:
            per = (m["rss_after_kib"] - m["rss_before_kib"]) / m["connections"]
            tgt = verdict(per <= TARGET_KIB) if key == "harpc" else "(peer)"
            w(f"| {name} | {m['connections']:,} | {m['rss_before_kib']:,} | {m['rss_after_kib']:,} | "
              f"{per:.2f} | {tgt} |")
        else:
            w(f"| {name} | n/a | n/a | n/a | n/a | n/a |")


def render(d, meta, rounds, w):
    parts = meta.get("parts", " ".join(PARTS)).split()
    header(w, meta)
    if "wrk" in parts:
        wrk_section(w, d, meta, rounds)
    for mode in RPC_MODES:
        if mode in parts:
            rpc_section(w, d, meta, mode, rounds)
    if "memory" in parts:
        memory_section(w, d)


def report_main(doc, render_lines, begin, end, tag):
    """The command line of the bench reports: RESULTS_DIR OUT. Prints the markdown
    that render_lines(results_dir, meta, rounds, write_line) makes and, unless OUT
    is "-", puts it into OUT between `begin` and `end`."""
    if len(sys.argv) != 3:
        print(doc, file=sys.stderr)
        return 2
    d, out = sys.argv[1], sys.argv[2]
    meta = load(d, "meta.json") or {}
    lines = []
    render_lines(d, meta, int(meta.get("rounds", 1)), lines.append)
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    if out != "-":
        write_between(out, begin, end, text)
        print(f"{tag}: results written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(report_main(__doc__, render, BEGIN, END, "bench"))
