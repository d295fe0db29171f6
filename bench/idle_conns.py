#!/usr/bin/env python3
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Opens N idle keep-alive HTTP/1.1 connections to HOST:PORT and holds them.

Each connection sends one small POST /rpc ({"key":"value"}), reads the whole
response, then stays open and idle: a realistic idle keep-alive connection.
When all N are open, prints "ready N" on stdout and holds them until killed
or until --hold seconds have passed (bounded). Used by bench/run.sh to measure
a server's memory per idle connection.

usage: idle_conns.py HOST PORT N [--hold SECONDS]
"""
import resource
import socket
import sys
import time

BODY = b'{"key":"value"}'
REQUEST = (b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the end of the body")
        rest += chunk
    return status


def main():
    args = sys.argv[1:]
    hold = 120.0
    if "--hold" in args:
        i = args.index("--hold")
        hold = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, n = args[0], int(args[1]), int(args[2])
    if not host.startswith("127.") and host != "localhost":
        print("idle_conns.py: loopback targets only", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            print(f"idle_conns.py: open-files hard limit {hard} < {want}", file=sys.stderr)
            return 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(REQUEST)
        status = read_response(s)
        if status != 200:
            print(f"idle_conns.py: connection {i}: HTTP {status}", file=sys.stderr)
            return 1
        socks.append(s)
    print(f"ready {len(socks)}", flush=True)
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
