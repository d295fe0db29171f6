# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""harpc daemons of the transaction chaos tests and the soak, each in a network
namespace of its own (netns.py): coordinators, banks, sentinels and echo
servers, single or as replicated groups of three, a client namespace whose
`harpc call` follows group leaders, and loads that report every second.

Every daemon listens on its namespace's address and one fixed port, so a
restarted daemon is where it was and a group's member list never changes.
What any member answers by itself (Raft.status, Participant.digest) is asked
by the observer (netns.Network.rpc, from the hub), which partitions between
hosts do not cut. Every wait polls with a deadline."""

import json
import os
import time

from netns import wait_until

PORT = 7000  # every daemon's port, in its own namespace

# A replicated group's members name a leader within a few election timeouts
# (300-600 ms each); on a loaded two-core machine we allow this long.
ELECTION_DEADLINE_S = 15.0


def poll(condition, timeout_s, interval_s=0.1):
    """Calls `condition` until it returns a true value, at most `timeout_s`;
    returns that value, or None at the deadline (for checks that record a
    failure and go on)."""
    try:
        return wait_until(condition, timeout_s, "a condition", interval_s)
    except TimeoutError:
        return None


def say(start, text):
    print(f"{time.monotonic() - start:7.1f}s  {text}", flush=True)


class Daemon:
    """One harpc daemon in its host's namespace: started, SIGKILLed, frozen,
    thawed and restarted with the same arguments, its output in a log of its
    own per start (NAME.START.log)."""

    def __init__(self, harpc, host, name, args, log_dir):
        self.harpc, self.host, self.name, self.args = harpc, host, name, list(args)
        self.log_dir = log_dir
        self.address = f"{host.address}:{PORT}"
        self.process = None
        self.starts = 0
        self.log_path = None

    def start(self, ready_timeout_s=20.0):
        """Starts it and waits until it answers GET /health; raises on failure."""
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, f"{self.name}.{self.starts}.log")
        self.process = self.host.start([self.harpc] + self.args, self.log_path)
        self.host.network.wait_http(self.address, "/health", timeout=ready_timeout_s)

    def alive(self):
        return self.process is not None and self.process.running()

    def kill(self):
        """SIGKILL, and reap it."""
        self.process.kill()

    def terminate(self, grace_s=15):
        """SIGTERM (a graceful drain), SIGKILL after `grace_s`; the exit code."""
        return self.process.stop(grace=grace_s)

    def freeze(self):
        self.process.sigstop()

    def thaw(self):
        self.process.sigcont()


class Group:
    """A coordinator or a bank: one Daemon, or three that form a Raft group."""

    def __init__(self, name, members):
        self.name, self.members = name, members

    @property
    def addresses(self):
        return ",".join(m.address for m in self.members)

    @property
    def target(self):
        return "list://" + self.addresses

    def member(self, address):
        return next(m for m in self.members if m.address == address)


class Client:
    """Calls from the client namespace with `harpc call` (one process per call,
    following a group's leader as any harpc channel does), and questions
    every member answers for itself, asked by the observer."""

    def __init__(self, harpc, host):
        self.harpc, self.host, self.net = harpc, host, host.network

    def call(self, target, method, params=None, timeout_ms=1500, extra=()):
        """The result as JSON, or None when the call failed."""
        argv = [self.harpc, "call", target, method, json.dumps(params if params is not None else {}),
                "--timeout-ms", str(timeout_ms)] + list(extra)
        result = self.host.run(argv, timeout=timeout_ms / 1000 + 10)
        if result.returncode != 0:
            return None
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        try:
            return json.loads(lines[-1]) if lines else None
        except ValueError:
            return None

    def ask(self, address, method, timeout_s=1.0):
        """`method` {} answered by the member at `address` itself (observer); None when it does not answer."""
        try:
            status, body = self.net.rpc(address, method, {}, timeout=timeout_s)
        except (OSError, ValueError):
            return None
        return body if status == 200 else None

    def raft_status(self, address):
        """Raft.status of one member, from its own point of view; None when it does not answer."""
        return self.ask(address, "Raft.status")

    def leader_of(self, group, exclude=()):
        """The address every answering member of `group` (but `exclude`) names as
        leader and that calls itself leader, or None."""
        named = set()
        for m in group.members:
            if m.address in exclude:
                continue
            status = self.raft_status(m.address)
            if status and status.get("leader"):
                named.add(status["leader"])
        if len(named) != 1:
            return None
        leader = named.pop()
        if leader in exclude:
            return None
        status = self.raft_status(leader)
        return leader if status and status.get("role") == "leader" else None

    def wait_leader(self, group, exclude=(), timeout_s=ELECTION_DEADLINE_S):
        return poll(lambda: self.leader_of(group, exclude), timeout_s, 0.1)

    def open_accounts(self, bank, prefix, count, balance):
        for i in range(count):
            account = f"{prefix}{i}"
            result = self.call(bank.target, "Bank.open", {"account": account, "balance": balance}, timeout_ms=5000,
                               extra=("--idempotency-key", f"open-{account}"))
            if result is None:
                raise RuntimeError(f"cannot open {account} on {bank.name}")

    def audit(self, bank):
        """(total, reserved, prepared) of a bank, or None when it does not answer."""
        audit = self.call(bank.target, "Bank.audit", {}, timeout_ms=3000)
        status = self.call(bank.target, "Participant.status", {}, timeout_ms=3000)
        if audit is None or status is None:
            return None
        return int(audit["total"]), int(audit["reserved"]), int(status.get("prepared", 0))

    def wait_settled(self, banks, timeout_s):
        """Polls until every bank answers with nothing prepared and nothing
        reserved: nothing is in doubt. Returns ({bank: (total, reserved,
        prepared)}, settled, seconds waited)."""
        start = time.monotonic()
        last = {}

        def settled():
            ok = True
            for bank in banks:
                a = self.audit(bank)
                if a is None:
                    ok = False
                    continue
                last[bank.name] = a
                ok = ok and a[1] == 0 and a[2] == 0
            return ok

        done = poll(settled, timeout_s, 0.25)
        return last, bool(done), time.monotonic() - start

    def digests(self, group):
        """{address: (commands, digest)} of every member that answers Participant.digest."""
        out = {}
        for m in group.members:
            d = self.ask(m.address, "Participant.digest")
            if d is not None:
                out[m.address] = (int(d["commands"]), d["digest"])
        return out

    def wait_digests_agree(self, group, timeout_s):
        """Polls until every member answers with the same (commands, digest); returns it or None."""
        def agree():
            d = self.digests(group)
            values = set(d.values())
            return values.pop() if len(d) == len(group.members) and len(values) == 1 else None
        return poll(agree, timeout_s, 0.25)

    def wait_logs_agree(self, group, timeout_s):
        """Polls until every member reports the same commit and applied index; returns it or None."""
        def agree():
            seen = set()
            for m in group.members:
                s = self.raft_status(m.address)
                if s is None:
                    return None
                seen.add((s["commit_index"], s["applied_index"]))
            return seen.pop() if len(seen) == 1 else None
        return poll(agree, timeout_s, 0.25)


class Topology:
    """A coordinator (single or a group of three), banks (single or groups of
    three), optional sentinels and echo servers, and a client namespace."""

    def __init__(self, harpc, net, log_dir, coordinators=1, banks=(("a", 1), ("b", 1)), sentinels=0, echo=0):
        self.harpc, self.net, self.log_dir = harpc, net, log_dir
        self.client_host = net.add_host("client")
        self.client = Client(harpc, self.client_host)
        self.sentinels = [self._daemon(f"sentinel{i + 1}") for i in range(sentinels)]
        sentinel_list = ",".join(s.address for s in self.sentinels)
        for s in self.sentinels:
            peers = ",".join(p.address for p in self.sentinels if p is not s)
            s.args = ["sentinel", "--listen", s.address, "--data-dir", os.path.join(log_dir, s.name + ".data"),
                      "--peers", peers, "--quorum", "2", "--down-after-ms", "500", "--probe-interval-ms", "100"]
        self.echo = []
        for i in range(echo):
            d = self._daemon(f"echo{i + 1}")
            d.args = ["serve", "--listen", d.address, "--name", d.name, "--threads", "1",
                      "--register", "sentinel://" + sentinel_list, "--lease-ttl-ms", "2000"]
            self.echo.append(d)
        self.coordinator = Group("coordinator", [self._daemon(f"coord{i + 1}") for i in range(coordinators)])
        for m in self.coordinator.members:
            m.args = ["coordinator", "--listen", m.address, "--data-dir", os.path.join(log_dir, m.name + ".data")]
            if coordinators > 1:
                m.args += ["--group", self.coordinator.addresses]
        coordinator_target = self.coordinator.target if coordinators > 1 else self.coordinator.members[0].address
        self.banks = []
        for name, replicas in banks:
            bank = Group("bank-" + name, [self._daemon(f"bank{name}{i + 1}") for i in range(replicas)])
            for m in bank.members:
                m.args = ["serve", "--service", "bank", "--listen", m.address, "--threads", "1",
                          "--db", os.path.join(log_dir, m.name + ".db"), "--coordinator", coordinator_target]
                if replicas > 1:
                    m.args += ["--group", bank.addresses]
            self.banks.append(bank)
        self.sentinel_target = "sentinel://" + sentinel_list

    def _daemon(self, name):
        return Daemon(self.harpc, self.net.add_host(name), name, [], self.log_dir)

    @property
    def groups(self):
        return [self.coordinator] + self.banks

    @property
    def daemons(self):
        return self.sentinels + self.echo + [m for g in self.groups for m in g.members]

    def start(self):
        """Starts every daemon, then waits for every group's leader; raises on failure."""
        for d in self.daemons:
            d.start()
        for g in self.groups:
            if len(g.members) > 1 and not self.client.wait_leader(g):
                raise RuntimeError(f"{g.name} elected no leader within {ELECTION_DEADLINE_S} s")


class Load:
    """`harpc transfer` or `harpc bench` with --progress --json, run in the client
    namespace: one JSON line of totals per second (with "unix_ms"), the final
    report last."""

    def __init__(self, harpc, host, kind, argv, log_path):
        self.kind, self.log_path = kind, log_path
        self.process = host.start([harpc, kind] + argv + ["--progress", "--json"], log_path)

    def lines(self):
        out = []
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    if line.startswith("{"):
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass
        except FileNotFoundError:
            pass
        return out

    def ticks(self):
        return [l for l in self.lines() if "unix_ms" in l]

    def report(self):
        final = [l for l in self.lines() if "unix_ms" not in l]
        return final[-1] if final else None

    def latest(self):
        ticks = self.ticks()
        return ticks[-1] if ticks else None

    def committed_at(self, unix_ms):
        """Transfers committed by the last tick at or before `unix_ms` (0 before the first)."""
        best = 0
        for t in self.ticks():
            if t["unix_ms"] <= unix_ms:
                best = t["committed"]
        return best

    def wait(self, timeout_s):
        """Waits for its end; the exit code, or None (then it is killed)."""
        code = self.process.wait_exit(timeout_s)
        if code is None:
            self.process.kill()
            self.process.wait_exit(10)
        return code


def now_ms():
    return int(time.time() * 1000)


def start_with_two_banks(sc, coordinators, banks, accounts, opening):
    """The scenario's Topology started, with accounts open on its two banks:
    (topology, total money)."""
    topo = Topology(sc.harpc, sc.net, sc.dir, coordinators=coordinators, banks=banks)
    topo.start()
    return topo, open_two_banks(topo.client, topo.banks, accounts, opening)


def open_two_banks(client, banks, accounts, opening):
    """Opens accounts a0.. on the first bank and b0.. on the second; the total money."""
    for bank, prefix in zip(banks, ("a", "b")):
        client.open_accounts(bank, prefix, accounts, opening)
    return sum(client.audit(b)[0] for b in banks)


def start_transfers(harpc, topo, coordinator_target, accounts, seconds, timeout_ms, concurrency, log_path):
    """`harpc transfer` both ways between the two banks' accounts, from the client namespace."""
    bank_a, bank_b = topo.banks
    return Load(harpc, topo.client_host, "transfer",
                ["--coordinator", coordinator_target, "--from", bank_a.target, "--from-account", "a",
                 "--to", bank_b.target, "--to-account", "b", "--accounts", str(accounts), "--both-ways",
                 "--amount", "7", "--concurrency", str(concurrency), "--duration", str(seconds),
                 "--timeout-ms", str(timeout_ms)],
                log_path)


def check_transfers_end(sc, start, topo, load, before, load_s, in_doubt_deadline_s, failures):
    """Waits for the load's end and records its figures; then the bank
    invariant: nothing prepared or reserved within `in_doubt_deadline_s`,
    and the money `before` conserved. Failures are appended."""
    code = load.wait(load_s + 30)
    report = load.report() or {}
    if code != 0 or not report:
        failures.append(f"harpc transfer exited {code} without a report")
    for key in ("transfers", "committed", "aborted", "errors", "longest_gap_ms"):
        sc.figure(key, report.get(key))
    if not report.get("committed"):
        failures.append("no transfer committed")
    audits, settled, waited = topo.client.wait_settled(topo.banks, in_doubt_deadline_s)
    sc.figure("settled_after_load_s", waited)
    after = sum(a[0] for a in audits.values()) if len(audits) == len(topo.banks) else None
    say(start, f"total money before {before}, after {after}; (total, reserved, prepared) per bank {audits}")
    if not settled:
        failures.append(f"something still in doubt {in_doubt_deadline_s} s after the load: {audits}")
    if after != before:
        failures.append(f"money not conserved: {before} before, {after} after")
