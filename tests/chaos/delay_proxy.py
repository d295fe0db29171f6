# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""A TCP proxy that delays every chunk it forwards, in both directions, by
delay ± jitter milliseconds, keeping each direction's order: a chunk is never
released before the one read before it. netem's delay for a kernel without
netem; random loss is left to nftables.

    delay_proxy.py --listen 10.77.0.5:9000 --target 10.77.0.4:8001 --delay-ms 200 --jitter-ms 50

Prints "listening on H:P" once it accepts connections; ends on SIGTERM.
"""

import argparse
import asyncio
import random
import signal
import sys
import time

CHUNK = 65536


async def pump(reader, writer, delay_s, jitter_s):
    """Copies reader to writer, each chunk held until its release time. A
    reader task and a writer task share a queue, so reading goes on while
    chunks wait: the delay is per chunk, not per round trip."""
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def read():
        last_release = 0.0
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                await queue.put((loop.time(), None))  # a reset: pass it on at once
                return
            release = max(last_release, loop.time() + delay_s + random.uniform(-jitter_s, jitter_s))
            last_release = release
            await queue.put((release, data))
            if not data:
                return

    async def write():
        while True:
            release, data = await queue.get()
            if data is None:
                writer.transport.abort()
                return
            wait = release - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    reading = asyncio.create_task(read())
    try:
        await write()
    finally:
        reading.cancel()


async def serve_client(client_reader, client_writer, target, delay_s, jitter_s):
    host, port = target.rsplit(":", 1)
    try:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    directions = [
        asyncio.create_task(pump(client_reader, server_writer, delay_s, jitter_s)),
        asyncio.create_task(pump(server_reader, client_writer, delay_s, jitter_s)),
    ]
    try:
        # Either side's reset ends both; a clean half-close lets the other finish.
        done, pending = await asyncio.wait(directions, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        for task in directions:
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="H:P to accept on")
    parser.add_argument("--target", required=True, help="H:P to forward to")
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args()
    if args.jitter_ms > args.delay_ms or args.delay_ms < 0:
        parser.error("need 0 <= jitter-ms <= delay-ms")
    delay_s, jitter_s = args.delay_ms / 1000.0, args.jitter_ms / 1000.0
    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(
        lambda r, w: serve_client(r, w, args.target, delay_s, jitter_s), host, int(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening on {args.listen}", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    random.seed(time.time_ns())
    asyncio.run(main())
    sys.exit(0)
