# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Runs the commands of docs/getting-started.md exactly as written, so that the
guide never rots: every ```sh block (but those marked "norun") in order, in
one bash with -e, from a scratch folder whose build/harpc is the binary under
test. It runs in a network namespace of its own (tests/fuzz/isolated.sh), so
the guide's fixed ports cannot meet another test's, and nothing but loopback
is reachable. Then checks what the guide promises: the echo answer, a
benchmark without errors across a SIGKILL, and the ODOWN alert.

Usage: /usr/bin/python3 run_guide.py PATH_TO_HARPC
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUIDE = os.path.join(ROOT, "docs", "getting-started.md")
ISOLATED = os.path.join(ROOT, "tests", "fuzz", "isolated.sh")


def guide_script(text):
    blocks = re.findall(r"^```sh([^\n]*)\n(.*?)^```", text, flags=re.S | re.M)
    commands = [body for info, body in blocks if "norun" not in info.split()]
    if len(commands) < 5:
        sys.exit(f"found only {len(commands)} runnable blocks in {GUIDE}")
    # If a command fails, the processes started so far go too.
    prologue = "set -euo pipefail\ntrap 'kill -9 $(jobs -p) 2>/dev/null || true' EXIT\n"
    return prologue + "\n".join(commands)


def main():
    harpc = os.path.abspath(sys.argv[1])
    with open(GUIDE, encoding="utf-8") as f:
        script = guide_script(f.read())
    with tempfile.TemporaryDirectory(prefix="harpc-guide-") as scratch:
        os.mkdir(os.path.join(scratch, "build"))
        os.symlink(harpc, os.path.join(scratch, "build", "harpc"))
        proc = subprocess.Popen([ISOLATED, "bash", "-c", script], cwd=scratch, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=180)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything the guide left behind
            except ProcessLookupError:
                pass
            proc.wait()
    print(out)
    if proc.returncode != 0:
        sys.exit(f"the guide's commands failed (exit {proc.returncode}):\n{err[-4000:]}")

    lines = out.splitlines()
    failures = []
    if '{"hello":"world"}' not in lines:
        failures.append("step 4: no echo answer {\"hello\":\"world\"}")
    if '{"hello":"curl"}' not in lines:
        failures.append("step 4: no answer to curl")
    bench = [json.loads(line) for line in lines if line.startswith('{"requests"')]
    if len(bench) != 1:
        failures.append("step 5: no benchmark report")
    elif bench[0]["errors"] != 0 or bench[0]["ok"] == 0:
        failures.append(f"step 5: the benchmark promised no errors across the SIGKILL: {bench[0]}")
    alerts = [json.loads(line) for line in lines if line.startswith('{"event"')]
    if not any(a["event"] == "odown" and a["address"] == "127.0.0.1:8003" for a in alerts):
        failures.append(f"step 6: no odown alert for 127.0.0.1:8003: {alerts}")
    if failures:
        sys.exit("\n".join(failures) + "\n--- stderr ---\n" + err[-4000:])
    print("getting-started: every step did what the guide says")


if __name__ == "__main__":
    main()
