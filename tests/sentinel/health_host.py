#!/usr/bin/python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Many instances in one process, for the sentinel tests and benchmarks.

Answers GET /health with 200 SERVING (HTTP/1.1 keep-alive, anything else
404) on many loopback ports from one thread, so that one SIGKILL takes every
one of them down at the same moment: a host that dies with its instances.

  health_host.py --ports P1,P2,...  listens on these ports of 127.0.0.1

Prints "listening on 127.0.0.1:P1,127.0.0.1:P2,..." once every port listens,
then serves until it is killed; exits 1 when a port cannot be had. The
ports are the caller's to choose: below the kernel's ephemeral range, no
other process takes them once this one is killed (see util/free_port.h).
"""
import argparse
import selectors
import socket
import sys

SERVING = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nSERVING"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found"
MAX_HEAD = 16 * 1024  # a request head longer than this is not a probe: the connection is closed


def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a killed host's ports, taken back at once
    s.bind(("127.0.0.1", port))
    s.listen(128)
    s.setblocking(False)
    return s


def answer(head):
    """The response to one request head (requests carry no body here)."""
    line = head.split(b"\r\n", 1)[0].split()
    return SERVING if len(line) >= 2 and line[0] == b"GET" and line[1] == b"/health" else NOT_FOUND


def serve(listeners):
    sel = selectors.DefaultSelector()
    for s in listeners:
        sel.register(s, selectors.EVENT_READ, None)
    pending = {}  # connection -> bytes received and not answered yet
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    conn, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                pending[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            buf = pending[conn] + data
            out = b""
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                out += answer(head)
            if not data or len(buf) > MAX_HEAD:
                sel.unregister(conn)
                del pending[conn]
                conn.close()
                continue
            pending[conn] = buf
            if out:
                try:
                    conn.sendall(out)  # a few hundred bytes: the socket buffer takes them
                except OSError:
                    sel.unregister(conn)
                    del pending[conn]
                    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ports", required=True, help="listen on these ports: P1,P2,...")
    a = ap.parse_args()
    try:
        listeners = [listen(int(port)) for port in a.ports.split(",")]
    except (ValueError, OSError) as e:
        print(f"health_host.py: cannot listen: {e}", file=sys.stderr)
        return 1
    print("listening on " + ",".join(f"127.0.0.1:{s.getsockname()[1]}" for s in listeners), flush=True)
    serve(listeners)
    return 0


if __name__ == "__main__":
    sys.exit(main())
