# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Helpers shared by the Python interop tests: child processes started and
stopped by PID, the port read from their first stdout line, and polling with
a deadline (never blind sleeps)."""

import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"  # Debian's: has requests and flask

# Loopback calls never go through a proxy, whatever the environment says.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))


class Child:
    """A child process that reports "listening on HOST:PORT" on its first
    stdout line. Its stderr goes to a temporary file, shown on failure."""

    def __init__(self, argv, ready_timeout=15.0):
        self.argv = list(argv)
        self._stderr = tempfile.TemporaryFile()
        self._stderr_text = ""
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            close_fds=True,
        )
        self.pid = self.proc.pid
        try:
            line = self._first_line(ready_timeout)
            prefix = "listening on "
            if not line.startswith(prefix):
                raise RuntimeError(f"{self.argv[0]} printed {line!r}, expected '{prefix}HOST:PORT'")
            self.address = line[len(prefix):].strip()
            self.host, port = self.address.rsplit(":", 1)
            self.port = int(port)
        except BaseException:
            self.stop()
            raise

    def _first_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.argv} did not report its address within {timeout} s; "
                                   f"stderr: {self.stderr()}")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"{self.argv} exited ({self.proc.poll()}) before reporting its address; "
                                   f"stderr: {self.stderr()}")
            buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def url(self, path=""):
        return f"http://{self.address}{path}"

    def stderr(self):
        """The end of what the child wrote on stderr so far."""
        if self._stderr.closed:
            return self._stderr_text
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """The exit status, or None if it still runs after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited within 5 s; always reaped."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(5) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if not self._stderr.closed:
            self._stderr_text = self.stderr()
            self._stderr.close()


def poll_until(condition, timeout, what, interval=0.02):
    """Calls `condition` until it returns something truthy; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # not ready yet
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last error: {last_error!r}")
        time.sleep(interval)  # poll interval, bounded by the deadline above


def free_listen_port():
    """A port free on 127.0.0.1 a moment ago, for a daemon that must know its
    address before it starts (members of a group name each other). Chosen
    below the kernel's ephemeral range, as harpc's FreeListenPort does: a
    port from that range can be taken before the daemon binds it by any
    outgoing connection, such as the group's first members dialling each other."""
    low, ephemeral_low = 10000, 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(100):  # bounded
        port = random.randint(low, ephemeral_low - 1) if ephemeral_low - 1 > low else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


def port_accepts(host, port):
    with socket.create_connection((host, port), timeout=1):
        return True


def run(argv, timeout=60):
    """Runs a command to completion; returns CompletedProcess with text output."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def harpc_binary():
    if len(sys.argv) < 2:
        sys.exit("usage: test.py PATH_TO_HARPC [unittest args]")
    path = sys.argv.pop(1)  # leave the rest to unittest
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} is not an executable")
    return os.path.abspath(path)


def serve_flask(app):
    """Serves a Flask app on 127.0.0.1 and a free port, printing "listening on
    127.0.0.1:PORT" once bound (what Child waits for), until killed."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
