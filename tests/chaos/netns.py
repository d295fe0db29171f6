# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Chaos harness: real partitions, loss and delay between processes, each in a
network namespace of its own that the test creates and deletes.

    with Network("hc") as net:
        a = net.add_host("a")                      # namespace + veth into the hub, 10.77.0.2/24
        b = net.add_host("b")                      # 10.77.0.3/24
        srv = b.start([harpc, "serve", "--listen", f"{b.address}:8001"], log_dir / "b.log")
        net.wait_http(f"{b.address}:8001", "/health")
        a.partition([b], direction="out")          # a's packets to b are dropped
        a.heal()

Topology. One *hub* namespace holds a bridge (10.77.0.1/24); every host is a
namespace joined to it by a veth pair, with 10.77.0.N/24 and lo up. Every
interface, address and nftables rule lives inside namespaces this harness made,
never in the root namespace, so parallel runs cannot collide even though they
all use the same addresses.

Who talks to the hosts. The test process stays in the root namespace. It
reaches the hosts as the *observer*: sockets it makes in the hub namespace
(a short-lived thread enters the hub with setns(2) only to create the socket;
a socket belongs to the namespace it was made in for its whole life), so the
observer speaks from 10.77.0.1 over the bridge. Host faults name the peers
they cut, so the observer keeps seeing every host through a partition
(not through link_down, which cuts the host off entirely). Programs that must
be subject to a host's faults (a `harpc bench`, a client) run inside that
host with Host.start/Host.run.

Faults. Each host's faults are rules of one nftables table of this harness in
that host's namespace: partition() drops by peer address and direction, loss()
drops a random share of packets (`numgen random mod 100 < N`), heal() removes
the table. link_down()/link_up() take the host's interface down and up.
Delay: DelayProxy, a TCP proxy started inside a host (this kernel has no netem).

Cleanup. close() — also run on exceptions (the with block), at exit and on
SIGTERM/SIGINT — resumes (SIGCONT) and terminates every process started here,
SIGKILL after a grace period, then deletes every namespace it made. Namespaces
of earlier runs whose process is gone (named <prefix><pid>-...) are removed
when a Network starts: a run killed with SIGKILL leaves nothing for long.

skip_unless_capable() exits with code 77 (ctest SKIP_RETURN_CODE) when this
machine cannot run the harness: not root, no `ip` or `nft`, or no namespaces.
"""

import atexit
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77
SUBNET = "10.77.0"
HUB_ADDRESS = f"{SUBNET}.1"
NETNS_DIR = "/run/netns"
PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(argv, check=True, timeout=20):
    """Runs a short command (ip, nft) and returns its stdout; raises with its
    stderr when it fails and check is set."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value, which is returned;
    raises TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def skip_unless_capable(prefix="hc"):
    """Exits with code 77 and a clear message unless this process can create
    namespaces, veth pairs, a bridge and nftables rules."""
    def skip(why):
        print(f"SKIP: chaos tests need root, iproute2 and nftables: {why}", file=sys.stderr)
        sys.exit(SKIP)

    if os.geteuid() != 0:
        skip("not running as root")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            skip(f"`{tool}` is not installed")
    probe = f"{prefix}{os.getpid()}-probe"
    try:
        sh(["ip", "netns", "add", probe])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        skip(f"cannot create a network namespace: {e}")
    try:
        sh(["ip", "-n", probe, "link", "add", "probe0", "type", "bridge"])
        sh(["ip", "netns", "exec", probe, "nft", "add", "table", "inet", "probe"])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        skip(f"cannot create a bridge or an nftables table in a namespace: {e}")
    finally:
        sh(["ip", "netns", "del", probe], check=False)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(ns):
    for pid in sh(["ip", "netns", "pids", ns], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def remove_stale_namespaces(prefix):
    """Deletes the namespaces (and kills their processes) of earlier runs with
    this prefix whose harness process no longer exists."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)-")
    for line in sh(["ip", "netns", "list"], check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        match = pattern.match(name)
        if match and not _pid_alive(int(match.group(1))):
            _kill_namespace_processes(name)
            sh(["ip", "netns", "del", name], check=False)


def socket_in_namespace(ns, family=socket.AF_INET, type=socket.SOCK_STREAM):
    """A socket created inside namespace `ns`: a thread of its own enters the
    namespace (setns is per thread) and makes it; the socket stays there."""
    box = {}

    def make():
        fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
        try:
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            box["socket"] = socket.socket(family, type)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e
        finally:
            os.close(fd)

    thread = threading.Thread(target=make, name=f"setns-{ns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["socket"]


class _NamespacedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, ns, address, timeout):
        host, port = address.rsplit(":", 1)
        super().__init__(host, int(port), timeout=timeout)
        self._ns = ns

    def connect(self):
        self.sock = socket_in_namespace(self._ns)
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Process:
    """A process started inside a host's namespace (`ip netns exec` execs the
    program, so pid is the program's own)."""

    def __init__(self, argv, ns, log_path=None, env=None):
        """stdout and stderr go to log_path, or to pipes when it is None."""
        self.argv = list(argv)
        self.log_path = None if log_path is None else str(log_path)
        full_env = dict(os.environ)
        full_env.update(env or {})
        log = None if log_path is None else open(self.log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                ["ip", "netns", "exec", ns] + self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log if log else subprocess.PIPE,
                stderr=subprocess.STDOUT if log else subprocess.PIPE,
                text=log is None, env=full_env, close_fds=True, start_new_session=True)
        finally:
            if log:
                log.close()
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def _signal(self, sig):
        if self.running():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def sigstop(self):
        self._signal(signal.SIGSTOP)

    def sigcont(self):
        self._signal(signal.SIGCONT)

    def kill(self):
        """SIGKILL, and reaps it."""
        self._signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def wait_exit(self, timeout):
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace=5.0):
        """SIGCONT (it may be stopped), SIGTERM, then SIGKILL after `grace`
        seconds. Returns the exit code."""
        self.sigcont()
        self._signal(signal.SIGTERM)
        if self.wait_exit(grace) is None:
            self.kill()
        return self.popen.returncode

    def log(self):
        """What it wrote so far (started with a log_path)."""
        with open(self.log_path, errors="replace") as f:
            return f.read()


class _Namespace:
    def __init__(self, network, ns):
        self.network = network
        self.ns = ns

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A socket in this namespace, usable from any thread."""
        return socket_in_namespace(self.ns, family, type)


class Host(_Namespace):
    """A namespace joined to the hub, with one address and its own faults."""

    def __init__(self, network, name, index):
        super().__init__(network, f"{network.tag}-{name}")
        self.name = name
        self.address = f"{SUBNET}.{index}"
        self.interface = "eth0"
        self._hub_interface = f"{network.tag_short}h{index}"
        self._table = f"harpc_chaos_{os.getpid()}"
        self._has_table = False
        sh(["ip", "netns", "add", self.ns])
        network._namespaces.append(self.ns)
        sh(["ip", "-n", network.hub, "link", "add", self._hub_interface, "type", "veth",
            "peer", "name", self.interface, "netns", self.ns])
        sh(["ip", "-n", network.hub, "link", "set", self._hub_interface, "master", network.bridge, "up"])
        sh(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        sh(["ip", "-n", self.ns, "addr", "add", f"{self.address}/24", "dev", self.interface])
        sh(["ip", "-n", self.ns, "link", "set", self.interface, "up"])

    def __repr__(self):
        return f"Host({self.name}, {self.address})"

    def start(self, argv, log_path, env=None):
        """Starts argv inside this host (stdout and stderr to log_path),
        tracked for cleanup."""
        process = Process(argv, self.ns, log_path, env)
        self.network._processes.append(process)
        return process

    def run(self, argv, timeout=60, env=None):
        """Runs argv inside this host to its end; returns a CompletedProcess
        (text stdout/stderr). Killed after `timeout` seconds (then raises
        subprocess.TimeoutExpired)."""
        process = Process(argv, self.ns, None, env)
        self.network._processes.append(process)
        try:
            out, err = process.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.popen.communicate()
            raise
        finally:
            self.network._processes.remove(process)
        return subprocess.CompletedProcess(argv, process.popen.returncode, out, err)

    # --- faults ---------------------------------------------------------

    def _nft(self, script):
        proc = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=script,
                              capture_output=True, text=True, timeout=20)
        if proc.returncode != 0:
            raise RuntimeError(f"nft in {self.ns} failed: {proc.stderr.strip()}\n{script}")

    def _ensure_table(self):
        if self._has_table:
            return
        self._nft(f"""
table inet {self._table} {{
  chain input  {{ type filter hook input priority -10; policy accept; }}
  chain output {{ type filter hook output priority -10; policy accept; }}
}}
""")
        self._has_table = True

    def _add_rules(self, direction, match_in, match_out, verdict):
        if direction not in ("both", "in", "out"):
            raise ValueError(f"direction must be both, in or out, not {direction!r}")
        self._ensure_table()
        rules = []
        if direction in ("both", "in"):
            rules.append(f"add rule inet {self._table} input {match_in} {verdict}")
        if direction in ("both", "out"):
            rules.append(f"add rule inet {self._table} output {match_out} {verdict}")
        self._nft("\n".join(rules) + "\n")

    @staticmethod
    def _address_set(peers):
        addresses = [p.address if isinstance(p, Host) else str(p) for p in peers]
        if not addresses:
            raise ValueError("no peers given")
        return "{ " + ", ".join(addresses) + " }"

    def partition(self, other_hosts, direction="both"):
        """Drops this host's packets with other_hosts (Hosts, or addresses,
        e.g. HUB_ADDRESS): "in" from them, "out" to them, or "both"."""
        peers = self._address_set(other_hosts)
        self._add_rules(direction, f"ip saddr {peers}", f"ip daddr {peers}", "drop")

    def loss(self, percent, peers=None, direction="both"):
        """Drops `percent` % of this host's packets at random, with `peers`
        only when given (Hosts or addresses)."""
        if not 0 <= int(percent) <= 100:
            raise ValueError("percent must be from 0 to 100")
        random_drop = f"numgen random mod 100 < {int(percent)}"
        if peers:
            addresses = self._address_set(peers)
            self._add_rules(direction, f"ip saddr {addresses} {random_drop}",
                            f"ip daddr {addresses} {random_drop}", "drop")
        else:
            self._add_rules(direction, random_drop, random_drop, "drop")

    def heal(self):
        """Removes every partition and loss rule of this host."""
        if self._has_table:
            self._nft(f"delete table inet {self._table}\n")
            self._has_table = False

    def link_down(self):
        sh(["ip", "-n", self.ns, "link", "set", self.interface, "down"])

    def link_up(self):
        sh(["ip", "-n", self.ns, "link", "set", self.interface, "up"])


class Network(_Namespace):
    """The hub namespace and its hosts; a context manager that cleans up."""

    _open = []
    _sequence = 0
    _handlers_installed = False

    def __init__(self, prefix="hc"):
        if not re.fullmatch(r"[a-z]{1,4}", prefix):
            raise ValueError("prefix: 1 to 4 lowercase letters")
        remove_stale_namespaces(prefix)
        Network._sequence += 1
        pid = os.getpid()
        self.tag = f"{prefix}{pid}-{Network._sequence}"
        self.tag_short = f"{Network._sequence % 100}"  # interface names live in our namespaces only
        super().__init__(self, f"{self.tag}-hub")
        self.hub = self.ns
        self.bridge = "br0"
        self.address = HUB_ADDRESS
        self.hosts = []
        self._namespaces = []
        self._processes = []
        self._closed = False
        Network._install_handlers()
        Network._open.append(self)
        try:
            sh(["ip", "netns", "add", self.hub])
            self._namespaces.append(self.hub)
            sh(["ip", "-n", self.hub, "link", "set", "lo", "up"])
            sh(["ip", "-n", self.hub, "link", "add", self.bridge, "type", "bridge"])
            sh(["ip", "-n", self.hub, "addr", "add", f"{HUB_ADDRESS}/24", "dev", self.bridge])
            sh(["ip", "-n", self.hub, "link", "set", self.bridge, "up"])
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def add_host(self, name):
        """A new host 10.77.0.N (N = 2, 3, ... in order of creation)."""
        if not re.fullmatch(r"[a-z0-9]{1,12}", name):
            raise ValueError("host name: 1 to 12 lowercase letters or digits")
        if any(h.name == name for h in self.hosts):
            raise ValueError(f"host {name} exists")
        index = len(self.hosts) + 2
        if index > 254:
            raise ValueError("at most 253 hosts")
        host = Host(self, name, index)
        self.hosts.append(host)
        return host

    def close(self, grace=3.0):
        """Ends every process started here (SIGCONT, SIGTERM, SIGKILL after
        `grace` s) and deletes every namespace made here. Idempotent."""
        if self._closed:
            return
        self._closed = True
        processes = list(self._processes)
        for process in processes:
            process.sigcont()
            process._signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in processes:
            if process.wait_exit(max(0.0, deadline - time.monotonic())) is None:
                process.kill()
        for ns in reversed(self._namespaces):
            _kill_namespace_processes(ns)  # anything a process left behind
            sh(["ip", "netns", "del", ns], check=False)
        if self in Network._open:
            Network._open.remove(self)

    @classmethod
    def _install_handlers(cls):
        if cls._handlers_installed:
            return
        cls._handlers_installed = True
        atexit.register(cls._close_all)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, cls._on_signal)

    @staticmethod
    def _on_signal(signum, frame):
        # Clean up, then die of the signal as if no handler had been set.
        Network._close_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    @classmethod
    def _close_all(cls):
        for network in list(cls._open):
            network.close(grace=1.0)

    # --- the observer: HTTP from the hub ---------------------------------

    def http(self, method, address, path, body=None, headers=None, timeout=2.0):
        """One HTTP request from the observer (10.77.0.1) to address
        ("H:P"); returns (status, body text). Raises OSError when it cannot
        connect or times out."""
        conn = _NamespacedHTTPConnection(self.hub, address, timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            all_headers = {"Content-Type": "application/json"} if data is not None else {}
            all_headers.update(headers or {})
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def get_json(self, address, path, timeout=2.0):
        status, text = self.http("GET", address, path, timeout=timeout)
        if status != 200:
            raise RuntimeError(f"GET {address}{path}: HTTP {status}: {text[:300]}")
        return json.loads(text)

    def rpc(self, address, method, params=None, timeout=2.0):
        """POST /rpc/<method>: returns (HTTP status, decoded JSON body)."""
        status, text = self.http("POST", address, f"/rpc/{method}", params or {}, timeout=timeout)
        return status, json.loads(text) if text else None

    def metrics(self, address, timeout=2.0):
        status, text = self.http("GET", address, "/metrics", timeout=timeout)
        if status != 200:
            raise RuntimeError(f"GET {address}/metrics: HTTP {status}")
        return parse_metrics(text)

    def answers(self, address, path="/health", timeout=1.0):
        """True when address answers path with HTTP 200."""
        try:
            return self.http("GET", address, path, timeout=timeout)[0] == 200
        except OSError:
            return False

    def wait_http(self, address, path="/health", timeout=15.0):
        wait_until(lambda: self.answers(address, path), timeout, f"{address}{path} to answer 200")

    def wait_port(self, address, timeout=15.0):
        host, port = address.rsplit(":", 1)

        def accepts():
            sock = self.socket()
            sock.settimeout(0.5)
            try:
                sock.connect((host, int(port)))
                return True
            except OSError:
                return False
            finally:
                sock.close()

        wait_until(accepts, timeout, f"{address} to accept connections")


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text):
    """Prometheus text → {"name{labels}": value} (labels as written)."""
    values = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            try:
                values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
            except ValueError:
                pass
    return values


class DelayProxy:
    """A TCP proxy running inside `host` on port `listen_port`, forwarding to
    `target` ("H:P") and delaying every chunk by delay_ms ± jitter_ms (order
    kept per direction). Loss is nft's job: host.loss()."""

    def __init__(self, host, listen_port, target, delay_ms, jitter_ms, log_path):
        self.host = host
        self.address = f"{host.address}:{listen_port}"
        self.target = target
        self.process = host.start(
            [PYTHON, os.path.join(HERE, "delay_proxy.py"), "--listen", self.address,
             "--target", target, "--delay-ms", str(delay_ms), "--jitter-ms", str(jitter_ms)],
            log_path)
        host.network.wait_port(self.address)

    def stop(self):
        self.process.stop()
