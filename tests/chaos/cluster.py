# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""What every chaos scenario needs beyond netns.py: the harpc binary from the
command line, a work directory, harpc daemons and loads started in hosts, and
the measured figures printed in one greppable form.

    with Scenario("sentinel_split") as sc:         # skips (exit 77) when incapable
        s1 = sc.net.add_host("s1")
        server = sc.serve(s1)                          # harpc serve on s1:8001
        report = sc.bench(sc.net.add_host("c"), f"list://{server.address}", duration=3)
        sc.figure("p99_ms", report["latency_ms"]["p99"])

Every process runs inside a host and writes its log in the work directory,
which is kept (and its logs' ends printed) when the scenario fails, and
removed when it passes (kept too when HARPC_CHAOS_KEEP is set).
"""

import json
import os
import shutil
import sys
import tempfile
import traceback

import netns

PORT = 8001
SENTINEL_PORT = 26379


class Daemon:
    """A harpc daemon in a host: its Process, its address and its log."""

    def __init__(self, process, address):
        self.process = process
        self.address = address

    def log(self):
        return self.process.log()


class Scenario:
    def __init__(self, name):
        if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
            sys.exit(f"usage: {sys.argv[0]} PATH_TO_HARPC")
        self.name = name
        self.harpc = os.path.abspath(sys.argv[1])
        netns.skip_unless_capable()
        self.dir = tempfile.mkdtemp(prefix=f"harpc-chaos-{name}-")
        self.figures = {}
        self.net = None

    def __enter__(self):
        self.net = netns.Network("hc")
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None:
                self._show_logs()
        finally:
            self.net.close()
        if exc_type is None:
            if os.environ.get("HARPC_CHAOS_KEEP"):
                print(f"logs kept in {self.dir} (HARPC_CHAOS_KEEP)")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            print(f"PASS {self.name} {json.dumps(self.figures)}")
        else:
            print(f"FAIL {self.name}: {exc_type.__name__}: {exc}; logs kept in {self.dir}", file=sys.stderr)
        return False

    def _show_logs(self):
        traceback.print_exc()
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if os.path.isfile(path) and name.endswith(".log"):
                with open(path, errors="replace") as f:
                    tail = f.read()[-2500:]
                print(f"----- {name} (end) -----\n{tail}", file=sys.stderr)

    def path(self, name):
        return os.path.join(self.dir, name)

    def figure(self, name, value):
        """Records a measured figure; printed now and in the PASS line."""
        self.figures[name] = round(value, 3) if isinstance(value, float) else value
        print(f"FIGURE {self.name}.{name} = {self.figures[name]}", flush=True)

    # --- daemons --------------------------------------------------------

    def serve(self, host, *extra, port=PORT, name=None):
        """`harpc serve --listen HOST:PORT` in host, answering /health."""
        address = f"{host.address}:{port}"
        argv = [self.harpc, "serve", "--listen", address, "--threads", "1",
                "--name", name or host.name] + list(extra)
        process = host.start(argv, self.path(f"serve-{host.name}-{port}.log"))
        self.net.wait_http(address, "/health")
        return Daemon(process, address)

    def sentinel(self, host, peers, *extra, port=SENTINEL_PORT):
        """`harpc sentinel` in host with the other sentinels' addresses."""
        address = f"{host.address}:{port}"
        data_dir = self.path(f"sentinel-{host.name}")
        os.makedirs(data_dir, exist_ok=True)
        argv = [self.harpc, "sentinel", "--listen", address, "--data-dir", data_dir]
        if peers:
            argv += ["--peers", ",".join(peers)]
        process = host.start(argv + list(extra), self.path(f"sentinel-{host.name}.log"))
        self.net.wait_http(address, "/health")
        return Daemon(process, address)

    # --- loads ----------------------------------------------------------

    def _bench_argv(self, target, duration, concurrency, channel, requests=None):
        amount = ["--requests", str(requests)] if requests else ["--duration", str(duration)]
        return [self.harpc, "bench", target, "--json", "--concurrency", str(concurrency)] + amount + list(channel)

    def bench(self, host, target, duration, concurrency=4, channel=(), requests=None):
        """Runs `harpc bench --json` in host to its end (for `duration`
        seconds, or `requests` calls when given); its report."""
        argv = self._bench_argv(target, duration, concurrency, channel, requests)
        done = host.run(argv, timeout=duration + 30)
        if done.returncode != 0:
            raise RuntimeError(f"harpc bench failed ({done.returncode}): {done.stderr[-2000:]}")
        return bench_report(done.stdout)

    def start_bench(self, host, target, duration, concurrency=4, channel=(), label="bench"):
        """Starts `harpc bench --json` in host; finish_bench() gives its report."""
        argv = self._bench_argv(target, duration, concurrency, channel)
        return host.start(argv, self.path(f"{label}-{host.name}.log"))

    @staticmethod
    def finish_bench(process, timeout):
        code = process.wait_exit(timeout)
        if code is None:
            process.kill()
            raise RuntimeError(f"harpc bench still ran {timeout} s after its end")
        if code != 0:
            raise RuntimeError(f"harpc bench failed ({code}): {process.log()[-2000:]}")
        return bench_report(process.log())


def bench_report(output):
    """The JSON line of `harpc bench --json` among other output lines."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON report in harpc bench's output: {output[-2000:]}")
