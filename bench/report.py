#!/usr/bin/env python3
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
TARGET_QPS = 1.0       # harpc QPS >= 1.0x gRPC
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


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    d, out = sys.argv[1], sys.argv[2]
    meta = load(d, "meta.json") or {}
    rounds = int(meta.get("rounds", 1))
    lines = []
    w = lines.append

    w(f"Run: `{meta.get('command', 'bench/run.sh')}` on {meta.get('date', '?')}, "
      f"{meta.get('elapsed_s', '?')} s in all.")
    w("")
    w(f"Machine: {meta.get('cores', '?')} cores ({meta.get('cpu', '?')}), Linux {meta.get('kernel', '?')}; "
      f"shared with other jobs, so noisy ({meta.get('busy_before', '?')} % busy just before the run; "
      f"load average {meta.get('load_before', '?')} before, "
      f"{meta.get('load_after', '?')} after). Servers pinned to core {meta.get('server_cpu', 0)}, "
      f"load generators to core {meta.get('load_cpu', 1)}; the two sides of each comparison ran back to back, "
      f"alternating order over {meta.get('rounds', 1)} rounds. "
      f"Peers: nginx {meta.get('nginx') or 'absent'}, gRPC C++ {meta.get('grpc') or 'absent'}, "
      f"{meta.get('wrk') or 'wrk absent'}; harpc {meta.get('harpc', '?')}.")
    w("")

    # a) wrk
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

    # b) RPC
    w(f"### b) RPC: closed loop, one client thread, {rounds} alternating rounds of "
      f"{meta.get('rpc_duration', 5)} s per side and cell; best round shown")
    w("")
    w("harpc: `harpc bench --method Echo.echo --data '{\"p\":\"<payload>\"}' --retries 0` -> "
      "`harpc serve --threads 1`. gRPC: `harpc_grpc_echo_client` (async, one completion queue, "
      "one channel) -> `harpc_grpc_echo_server` (async, one completion-queue thread).")
    w("")
    w("| payload | conc. | harpc QPS | gRPC QPS | QPS ratio | harpc p50 / p99 ms | gRPC p50 / p99 ms "
      "| p99 ratio | QPS >= 1.0x | p99 <= gRPC |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | :---: |")
    all_qps = []
    cost_rows = []
    for size in (16, 1024):
        for c in (1, 64):
            hr, h_all = best(d, f"rpc_harpc_{size}_{c}", "qps", rounds)
            gr, g_all = best(d, f"rpc_grpc_{size}_{c}", "qps", rounds)
            all_qps.append((size, c, h_all, g_all))
            cost_rows.append((size, c, hr, gr))
            hq, gq = hr and hr.get("qps"), gr and gr.get("qps")
            hl = hr and hr.get("latency_ms")
            gl = gr and gr.get("latency_ms")
            qr = ratio(hq, gq)
            pr = ratio(hl and hl["p99"], gl and gl["p99"])
            herr = hr.get("errors", 0) if hr else 0
            gerr = gr.get("errors", 0) if gr else 0
            note = ""
            if herr or gerr:
                note = f" (errors: harpc {herr}, gRPC {gerr})"
            label = "16 B" if size == 16 else "1 KiB"
            hlat = "n/a" if not hl else "{:.3f} / {:.3f}".format(hl["p50"], hl["p99"])
            glat = "n/a" if not gl else "{:.3f} / {:.3f}".format(gl["p50"], gl["p99"])
            w(f"| {label} | {c} | {num(hq)} | {num(gq)} | {num(qr, '{:.2f}x')} | "
              f"{hlat} | {glat} | {num(pr, '{:.2f}x')} | "
              f"{verdict(None if qr is None else qr >= TARGET_QPS)} | "
              f"{verdict(None if pr is None else pr <= 1.0)}{note} |")
    w("")
    w("CPU per call in the same rounds, in microseconds (server on core 0, client on core 1; "
      "less is better; robust to other jobs taking the cores):")
    w("")
    w("| payload | conc. | harpc server | gRPC server | gRPC / harpc | harpc client | gRPC client |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, c, hr, gr in cost_rows:
        hs, gs = cpu_us(hr, "qps", "_server_cpu_pct"), cpu_us(gr, "qps", "_server_cpu_pct")
        hc, gc = cpu_us(hr, "qps", "_client_cpu_pct"), cpu_us(gr, "qps", "_client_cpu_pct")
        w(f"| {'16 B' if size == 16 else '1 KiB'} | {c} | {num(hs, '{:.2f}')} | {num(gs, '{:.2f}')} | "
          f"{num(ratio(gs, hs), '{:.2f}x')} | {num(hc, '{:.2f}')} | {num(gc, '{:.2f}')} |")
    w("")
    w("QPS of every round, with the CPU share of the server (s) and the client (c) "
      "(harpc | gRPC): " + "; ".join(
        f"{'16 B' if size == 16 else '1 KiB'} c={c}: {rounds_text(ha)} | {rounds_text(ga)}"
        for size, c, ha, ga in all_qps) + ".")
    w("")

    # c) memory
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

    text = "\n".join(lines) + "\n"
    print(text)
    if out == "-":
        return 0
    write_between(out, BEGIN, END, text)
    print(f"bench: results written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
