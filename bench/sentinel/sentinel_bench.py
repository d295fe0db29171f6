#!/usr/bin/env python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Measurement helpers for bench/sentinel.sh (stdlib + requests for the etcd stream).

  kill    --sentinels H:P,H:P,H:P --service S --addr H:P --pid PID --clients N
          N threads long-poll Registry.watch (client i on sentinel i % 3); once all
          see ADDR "up", SIGKILL PID and record, per client, when ADDR first stops
          being "up" (sdown in that sentinel's own view) and when it becomes
          odown / vanishes (out of every client's call set). Prints one JSON line.
  load    --sentinel H:P --pid PID --n 1000 --services 10 --watchers 100 --duration 30
          registers N instances (distinct unused loopback ports), heartbeats each
          once per second spread evenly over the second on keep-alive connections,
          runs W long-poll watchers, samples /proc/PID over the window. JSON line.
  prop    --sentinel H:P --etcd H:P --reps 20
          registration / deregistration -> watcher latency, sentinel vs etcd. JSON line.
  mass    --sentinels H:P,H:P,H:P --instances FILE --pgid PGID --alerts F1,F2,F3 [--service echo]
          FILE lists the H:P of instances registered with every sentinel, all of
          them in process group PGID. Once every sentinel has probed all of them
          up, one watcher per sentinel long-polls Registry.watch; SIGKILL the
          group (one kill(2)) and record, per sentinel, when the first and the
          last of them became odown (or gone), and the epochs before and after
          (elections); then, once their leases expired, how the alerts the
          sentinels appended to F1,F2,F3 (--notify) told each of them. Prints
          one JSON line.
"""
import argparse, asyncio, base64, http.client, json, os, signal, socket, statistics, sys, threading, time


def post(conn, method, params):
    body = json.dumps(params)
    conn.request("POST", "/rpc/" + method, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def hp(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


def watch(sentinel, service, until):
    """Yields (time.monotonic(), answer) for each Registry.watch answer on `service` until `until`."""
    h, p = hp(sentinel)
    conn = http.client.HTTPConnection(h, p, timeout=10)
    index = 0
    while time.monotonic() < until:
        st, w = post(conn, "Registry.watch", {"service": service, "index": index, "timeout_ms": 1000})
        now = time.monotonic()
        if st != 200:
            time.sleep(0.01)
            continue
        index = w["index"]
        yield now, w


# ---------------------------------------------------------------- kill -> odown
def cmd_kill(a):
    sents = a.sentinels.split(",")
    n = a.clients
    seen_up = [threading.Event() for _ in range(n)]
    t_kill = [None]
    res = [dict(sentinel=sents[i % len(sents)], sdown_ms=None, out_ms=None, out_state=None) for i in range(n)]
    deadline = time.monotonic() + a.timeout

    def client(i):
        for now, w in watch(sents[i % len(sents)], a.service, deadline):
            states = {x["address"]: x["state"] for x in w["instances"]}
            s = states.get(a.addr)
            if s == "up":
                seen_up[i].set()
            if t_kill[0] is None:
                continue
            if s != "up" and res[i]["sdown_ms"] is None:
                res[i]["sdown_ms"] = (now - t_kill[0]) * 1e3
            if s is None or s in ("odown", "draining"):
                res[i]["out_ms"] = (now - t_kill[0]) * 1e3
                res[i]["out_state"] = s or "gone"
                return

    ths = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in ths:
        t.start()
    for e in seen_up:
        if not e.wait(max(0.1, deadline - time.monotonic())):
            print(json.dumps({"error": "instance never seen up by every client"}))
            return 1
    time.sleep(0.3)  # every client parked in its long poll
    t_kill[0] = time.monotonic()
    os.kill(a.pid, signal.SIGKILL)
    for t in ths:
        t.join(max(0.1, deadline - time.monotonic()))
    outs = [r["out_ms"] for r in res]
    print(json.dumps({"clients": res,
                      "max_out_ms": max(outs) if None not in outs else None,
                      "max_sdown_ms": max(r["sdown_ms"] or 0 for r in res)}))
    return 0


# ---------------------------------------------------------------- load
class KAConn:
    """Minimal HTTP/1.1 keep-alive client on asyncio streams."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def open(self):
        self.r, self.w = await asyncio.open_connection(self.host, self.port)

    async def call(self, method, params):
        body = json.dumps(params).encode()
        self.w.write(b"POST /rpc/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (method.encode(), self.host.encode(), len(body)) + body)
        head = await self.r.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                hdr[k.strip().lower()] = v.strip()
        if hdr.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.r.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.r.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.r.readexactly(int(hdr.get("content-length", "0")))
        return status, data


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fs = f.read().rsplit(")", 1)[1].split()
    return (int(fs[11]) + int(fs[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime (fields 14, 15)


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()  # nothing listens there: the sentinel's probes get "connection refused"
    return ports


async def load_main(a):
    h, p = hp(a.sentinel)
    ports = free_ports(a.n)
    nconn = a.conns
    conns = [KAConn(h, p) for _ in range(nconn)]
    for c in conns:
        await c.open()
    leases = [None] * a.n

    async def reg(ci):
        for i in range(ci, a.n, nconn):
            st, d = await conns[ci].call("Registry.register", {
                "service": f"svc{i % a.services}", "address": f"127.0.0.1:{ports[i]}",
                "name": f"inst{i}", "weight": 1, "ttl_ms": a.ttl_ms})
            leases[i] = json.loads(d)["lease"]

    t = time.monotonic()
    await asyncio.gather(*(reg(ci) for ci in range(nconn)))
    reg_s = time.monotonic() - t

    stop = [False]
    lat, late, errors, relet = [], [], [0], [0]
    watch_answers = [0]

    async def hb(ci):
        mine = list(range(ci, a.n, nconn))  # instance i fires at offset i/n within each second
        base = time.monotonic()
        k = 0
        while not stop[0]:
            i = mine[k % len(mine)]
            due = base + (k // len(mine)) + i / a.n
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 0.005:
                late.append(now - due)
            t0 = time.monotonic()
            st, d = await conns[ci].call("Registry.heartbeat", {"lease": leases[i]})
            dt = time.monotonic() - t0
            if measuring[0]:
                lat.append(dt * 1e3)
            if st == 404:  # expired: register again
                relet[0] += 1
                st2, d2 = await conns[ci].call("Registry.register", {
                    "service": f"svc{i % a.services}", "address": f"127.0.0.1:{ports[i]}",
                    "name": f"inst{i}", "weight": 1, "ttl_ms": a.ttl_ms})
                leases[i] = json.loads(d2)["lease"]
            elif st != 200:
                errors[0] += 1
            k += 1

    async def watcher(wi):
        c = KAConn(h, p)
        await c.open()
        index = 0
        svc = f"svc{wi % a.services}"
        while not stop[0]:
            st, d = await c.call("Registry.watch", {"service": svc, "index": index, "timeout_ms": 5000})
            if st == 200:
                index = json.loads(d)["index"]
                if measuring[0]:
                    watch_answers[0] += 1
            else:
                await asyncio.sleep(0.1)

    measuring = [False]
    tasks = [asyncio.ensure_future(hb(ci)) for ci in range(nconn)]
    tasks += [asyncio.ensure_future(watcher(wi)) for wi in range(a.watchers)]
    await asyncio.sleep(a.warmup)
    measuring[0] = True
    c0, w0 = proc_cpu(a.pid), time.monotonic()
    rss = []
    while time.monotonic() - w0 < a.duration:
        await asyncio.sleep(1)
        rss.append(proc_rss_kb(a.pid))
    c1, w1 = proc_cpu(a.pid), time.monotonic()
    measuring[0] = False
    stop[0] = True
    await asyncio.sleep(0.2)
    for t in tasks:
        t.cancel()
    h_, p_ = hp(a.sentinel)
    conn = http.client.HTTPConnection(h_, p_, timeout=10)
    st, lst = post(conn, "Registry.list", {})
    states = {}
    for svc, insts in lst["services"].items():
        for x in insts:
            states[x["state"]] = states.get(x["state"], 0) + 1
    return {"instances": a.n, "services": a.services, "watchers": a.watchers, "conns": nconn,
            "register_s": reg_s, "window_s": w1 - w0, "cpu_pct": (c1 - c0) / (w1 - w0) * 100,
            "rss_kb_end": rss[-1], "rss_kb_max": max(rss), "heartbeats": len(lat),
            "hb_per_s": len(lat) / (w1 - w0),
            "hb_p50_ms": pct(lat, 50), "hb_p99_ms": pct(lat, 99), "hb_max_ms": max(lat),
            "late_sends": len(late), "errors": errors[0], "reregistered": relet[0],
            "watch_answers": watch_answers[0], "states_end": states}


def cmd_load(a):
    print(json.dumps(asyncio.run(load_main(a))))
    return 0


# ---------------------------------------------------------------- propagation
def b64(s):
    return base64.b64encode(s.encode()).decode()


def cmd_prop(a):
    import requests
    out = {"sentinel": {"add": [], "del": []}, "etcd": {"add": [], "del": []}}
    ports = free_ports(a.reps)

    # --- sentinel: one watcher thread long-polling, the main thread registers/deregisters
    h, p = hp(a.sentinel)
    svc = "prop"
    cur = {"set": set()}
    cv = threading.Condition()
    stop = [False]

    def swatch():
        conn = http.client.HTTPConnection(h, p, timeout=10)
        index = 0
        while not stop[0]:
            st, w = post(conn, "Registry.watch", {"service": svc, "index": index, "timeout_ms": 1000})
            now = time.monotonic()
            if st != 200:
                continue
            index = w["index"]
            with cv:
                cur["set"] = {x["address"] for x in w["instances"]}
                cur["t"] = now
                cv.notify_all()

    th = threading.Thread(target=swatch, daemon=True)
    th.start()
    time.sleep(0.3)
    conn = http.client.HTTPConnection(h, p, timeout=10)

    def wait_for(pred, t0):
        with cv:
            ok = cv.wait_for(lambda: pred(cur["set"]), timeout=5)
            return (cur["t"] - t0) * 1e3 if ok else None

    for i in range(a.reps):
        addr = f"127.0.0.1:{ports[i]}"
        time.sleep(0.05)  # the watcher is parked in its long poll
        t0 = time.monotonic()
        st, r = post(conn, "Registry.register", {"service": svc, "address": addr, "name": addr, "ttl_ms": 30000})
        out["sentinel"]["add"].append(wait_for(lambda s: addr in s, t0))
        time.sleep(0.05)
        t0 = time.monotonic()
        post(conn, "Registry.deregister", {"lease": r["lease"]})
        out["sentinel"]["del"].append(wait_for(lambda s: addr not in s, t0))
    stop[0] = True

    # --- etcd: v3 JSON gateway; watch stream on the prefix, lease grant + put, revoke
    base = f"http://{a.etcd}"
    prefix = "/harpc/services/prop/"
    ses = requests.Session()
    ses.trust_env = False  # no proxy for loopback
    ecur = {"set": set(), "t": 0}
    ecv = threading.Condition()

    def ewatch():
        s = requests.Session()
        s.trust_env = False
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        r = s.post(base + "/v3/watch", json={"create_request": {"key": b64(prefix), "range_end": b64(end)}},
                   stream=True, timeout=(5, 60))
        for line in r.iter_lines(chunk_size=1):
            now = time.monotonic()
            if not line:
                continue
            res = json.loads(line).get("result", {})
            with ecv:
                for ev in res.get("events", []):
                    key = base64.b64decode(ev["kv"]["key"]).decode()[len(prefix):]
                    if ev.get("type") == "DELETE":
                        ecur["set"].discard(key)
                    else:
                        ecur["set"].add(key)
                ecur["t"] = now
                ecv.notify_all()

    eth = threading.Thread(target=ewatch, daemon=True)
    eth.start()
    time.sleep(0.5)

    def ewait_for(pred, t0):
        with ecv:
            ok = ecv.wait_for(lambda: pred(ecur["set"]), timeout=5)
            return (ecur["t"] - t0) * 1e3 if ok else None

    ports2 = free_ports(a.reps)
    for i in range(a.reps):
        addr = f"127.0.0.1:{ports2[i]}"
        time.sleep(0.05)
        t0 = time.monotonic()  # registration = lease grant + put, as harpc's etcd registrar does
        lease = ses.post(base + "/v3/lease/grant", json={"TTL": 30}).json()["ID"]
        ses.post(base + "/v3/kv/put", json={"key": b64(prefix + addr), "lease": lease,
                                            "value": b64(json.dumps({"address": addr, "name": addr, "weight": 1}))})
        out["etcd"]["add"].append(ewait_for(lambda s: addr in s, t0))
        time.sleep(0.05)
        t0 = time.monotonic()
        ses.post(base + "/v3/lease/revoke", json={"ID": lease})
        out["etcd"]["del"].append(ewait_for(lambda s: addr not in s, t0))
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------- mass failure
def cmd_mass(a):
    sents = a.sentinels.split(",")
    wanted = {line.strip() for line in open(a.instances) if line.strip()}
    alert_files = a.alerts.split(",")
    alerts_from = [os.path.getsize(f) if os.path.exists(f) else 0 for f in alert_files]

    def listing(sentinel):
        h, p = hp(sentinel)
        st, lst = post(http.client.HTTPConnection(h, p, timeout=10), "Registry.list", {})
        mine = {x["address"]: x for x in lst["services"].get(a.service, []) if x["address"] in wanted}
        return lst["epoch"], mine

    deadline = time.monotonic() + a.timeout
    while True:  # every sentinel has probed every instance up
        ready = True
        for sentinel in sents:
            _, mine = listing(sentinel)
            if len(mine) < len(wanted) or any(x["state"] != "up" or x["probe_latency_ms"] < 0 for x in mine.values()):
                ready = False
        if ready:
            break
        if time.monotonic() > deadline:
            print(json.dumps({"error": "the instances were never all up on every sentinel"}))
            return 1
        time.sleep(0.1)
    epochs_before = [listing(s)[0] for s in sents]

    t_kill = [None]
    res = [dict(sentinel=s, first_ms=None, all_ms=None, odown=0, gone=0) for s in sents]

    def watcher(i):
        for now, w in watch(sents[i], a.service, deadline):
            if t_kill[0] is None:
                continue
            states = {x["address"]: x["state"] for x in w["instances"] if x["address"] in wanted}
            odown = sum(1 for s in states.values() if s == "odown")
            gone = len(wanted) - len(states)
            res[i]["odown"], res[i]["gone"] = odown, gone
            if odown and res[i]["first_ms"] is None:
                res[i]["first_ms"] = (now - t_kill[0]) * 1e3
            if odown + gone == len(wanted):
                res[i]["all_ms"] = (now - t_kill[0]) * 1e3
                return

    deadline = time.monotonic() + a.timeout
    ths = [threading.Thread(target=watcher, args=(i,), daemon=True) for i in range(len(sents))]
    for t in ths:
        t.start()
    time.sleep(0.3)  # every watcher parked in its long poll
    t_kill[0] = time.monotonic()
    os.killpg(a.pgid, signal.SIGKILL)
    for t in ths:
        t.join(max(0.1, deadline - time.monotonic()))
    after = [listing(s) for s in sents]
    decided = sorted({x["epoch"] for _, mine in after for x in mine.values() if x["state"] == "odown"})
    # Their leases expire (TTL 10 s): only then may the next repetition's instances get their ports
    # (ephemeral ports come round again) without being taken for these.
    leave_by = time.monotonic() + 30
    while any(listing(s)[1] for s in sents) and time.monotonic() < leave_by:
        time.sleep(0.5)
    # Each instance told once: an odown alert of its own, or named in an alerts_dropped summary.
    told = {addr: 0 for addr in wanted}
    alone = named = summaries = 0
    for path, start in zip(alert_files, alerts_from):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            f.seek(start)
            for line in f:
                e = json.loads(line)
                if e["event"] == "odown" and e["address"] in told:
                    told[e["address"]] += 1
                    alone += 1
                elif e["event"] == "alerts_dropped":
                    summaries += 1
                    for x in e.get("alerts", []):
                        if x["event"] == "odown" and x["address"] in told:
                            told[x["address"]] += 1
                            named += 1
    print(json.dumps({"instances": len(wanted), "sentinels": res,
                      "epochs_before": epochs_before, "epochs_after": [e for e, _ in after],
                      "decision_epochs": decided,
                      "alerts": {"told": alone, "named_in_summaries": named, "summaries": summaries,
                                 "told_once": sum(1 for n in told.values() if n == 1),
                                 "not_told": sum(1 for n in told.values() if n == 0)}}))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    k = sp.add_parser("kill")
    k.add_argument("--sentinels", required=True)
    k.add_argument("--service", default="echo")
    k.add_argument("--addr", required=True)
    k.add_argument("--pid", type=int, required=True)
    k.add_argument("--clients", type=int, default=5)
    k.add_argument("--timeout", type=float, default=15)
    l = sp.add_parser("load")
    l.add_argument("--sentinel", required=True)
    l.add_argument("--pid", type=int, required=True)
    l.add_argument("--n", type=int, default=1000)
    l.add_argument("--services", type=int, default=10)
    l.add_argument("--watchers", type=int, default=100)
    l.add_argument("--conns", type=int, default=50)
    l.add_argument("--ttl-ms", type=int, default=3000)
    l.add_argument("--warmup", type=float, default=3)
    l.add_argument("--duration", type=float, default=30)
    pr = sp.add_parser("prop")
    pr.add_argument("--sentinel", required=True)
    pr.add_argument("--etcd", required=True)
    pr.add_argument("--reps", type=int, default=20)
    m = sp.add_parser("mass")
    m.add_argument("--sentinels", required=True)
    m.add_argument("--instances", required=True)
    m.add_argument("--pgid", type=int, required=True)
    m.add_argument("--alerts", required=True)
    m.add_argument("--service", default="echo")
    m.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    return {"kill": cmd_kill, "load": cmd_load, "prop": cmd_prop, "mass": cmd_mass}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
