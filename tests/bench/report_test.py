# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""bench/report.py renders what bench/run.sh measured: these tests give it a
made-up results directory and read the markdown tables back, and check that
bench/lib.sh's brpc_json turns bRPC's summary line into the results schema.

Usage: report_test.py [unittest args]"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REPORT = os.path.join(ROOT, "bench", "report.py")
LIB = os.path.join(ROOT, "bench", "lib.sh")


def rpc(qps, p50, p99, errors=0):
    return {"requests": int(qps), "ok": int(qps) - errors, "errors": errors, "qps": qps,
            "latency_ms": {"p50": p50, "p99": p99, "p999": p99 * 2}}


class Results:
    """A results directory as bench/run.sh leaves it."""

    def __init__(self, test, **meta):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)
        self.meta = {"rounds": 2, "rpc_duration": 4, "rpc_payloads": [16, 16384],
                     "rpc_callers": [1, 256], "parts": "wrk pinned unpinned memory"}
        self.meta.update(meta)

    def put(self, name, obj):
        with open(os.path.join(self.dir.name, name), "w") as f:
            json.dump(obj, f)

    def render(self, out="-"):
        self.put("meta.json", self.meta)
        done = subprocess.run([sys.executable, REPORT, self.dir.name, out],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        return done.stdout


def section(text, heading):
    """The lines of the section whose heading starts with `heading`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("### ")), len(lines))
    return lines[start:end]


def row(lines, *first_cells):
    """The cells of the first table row that starts with `first_cells`."""
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:len(first_cells)] == list(first_cells):
            return cells
    raise AssertionError(f"no row {first_cells} in:\n" + "\n".join(lines))


class RpcTableTest(unittest.TestCase):
    def test_each_side_best_round_and_ratio_to_best_peer(self):
        res = Results(self)
        res.put("rpc_pinned_harpc_16_1_r1.json", rpc(9000, 0.09, 0.20))
        res.put("rpc_pinned_harpc_16_1_r2.json", rpc(10000, 0.08, 0.15))  # best round
        res.put("rpc_pinned_brpc_16_1_r1.json", rpc(8000, 0.1, 0.25))
        res.put("rpc_pinned_grpc_16_1_r2.json", rpc(5000, 0.2, 0.10))
        res.put("cpu_rpc_pinned_harpc_16_1_r2.json", {"server_cpu_pct": 50, "client_cpu_pct": 80})
        lines = section(res.render(), "### b) RPC, pinned")
        cells = row(lines, "16 B", "1")
        # harpc QPS, p99 | bRPC | gRPC | harpc / best peer (most QPS) | p99 vs the lowest peer p99
        self.assertEqual(cells[2:10], ["10,000", "0.150", "8,000", "0.250", "5,000", "0.100",
                                       "1.25x (bRPC)", "**missed**"])
        cpu_table = next(i for i, line in enumerate(lines) if line.startswith("CPU per call"))
        cpu = row(lines[cpu_table:], "16 B", "1")
        # harpc server, client: 50 % of a core for 10,000 calls/s is 50 us per call; 80 %, 80 us.
        self.assertEqual(cpu[2:4], ["50.00", "80.00"])
        self.assertIn("9,000 / 10,000 (s 50 %, c 80 %)", cpu[8])

    def test_p99_met_when_no_peer_is_lower(self):
        res = Results(self)
        res.put("rpc_unpinned_harpc_16384_256_r1.json", rpc(3000, 20, 40))
        res.put("rpc_unpinned_brpc_16384_256_r1.json", rpc(2000, 30, 41))
        res.put("rpc_unpinned_grpc_16384_256_r1.json", rpc(6000, 10, 40.5))
        cells = row(section(res.render(), "### b) RPC, unpinned"), "16 KiB", "256")
        self.assertEqual(cells[8:10], ["0.50x (gRPC)", "**met**"])

    def test_missing_peer_shows_na_and_is_left_out_of_the_comparison(self):
        res = Results(self)
        res.put("rpc_pinned_harpc_16_256_r1.json", rpc(40000, 2, 9))
        res.put("rpc_pinned_grpc_16_256_r1.json", rpc(20000, 4, 8))
        cells = row(section(res.render(), "### b) RPC, pinned"), "16 B", "256")
        self.assertEqual(cells[4:6], ["n/a", "n/a"])
        self.assertEqual(cells[8:10], ["2.00x (gRPC)", "**missed**"])
        empty = row(section(res.render(), "### b) RPC, pinned"), "16 KiB", "1")
        self.assertEqual(empty[2:10], ["n/a"] * 8)

    def test_errors_are_named(self):
        res = Results(self)
        res.put("rpc_pinned_harpc_16_1_r1.json", rpc(100, 1, 2, errors=3))
        res.put("rpc_pinned_brpc_16_1_r1.json", rpc(100, 1, 2))
        cells = row(section(res.render(), "### b) RPC, pinned"), "16 B", "1")
        self.assertEqual(cells[9], "**met** (errors: harpc 3, bRPC 0)")


class PartsTest(unittest.TestCase):
    def test_only_the_parts_run_are_rendered(self):
        res = Results(self, parts="unpinned")
        text = res.render()
        self.assertIn("### b) RPC, unpinned", text)
        for absent in ("### a)", "### b) RPC, pinned", "### c)"):
            self.assertNotIn(absent, text)

    def test_every_part_without_parts_in_meta(self):
        res = Results(self)
        del res.meta["parts"]
        text = res.render()
        for heading in ("### a)", "### b) RPC, pinned", "### b) RPC, unpinned", "### c)"):
            self.assertIn(heading, text)

    def test_written_between_the_markers_only(self):
        res = Results(self, parts="memory")
        res.put("mem_harpc.json", {"connections": 1000, "rss_before_kib": 1000, "rss_after_kib": 5000})
        out = os.path.join(res.dir.name, "BENCHMARKS.md")
        with open(out, "w") as f:
            f.write("# hand-written\n\n<!-- bench:results:begin (written by bench/run.sh; edit outside "
                    "the markers) -->\nstale results\n<!-- bench:results:end -->\n\ntail\n")
        res.render(out)
        with open(out) as f:
            doc = f.read()
        self.assertTrue(doc.startswith("# hand-written\n"))
        self.assertTrue(doc.endswith("<!-- bench:results:end -->\n\ntail\n"))
        self.assertNotIn("stale results", doc)
        self.assertIn("| harpc serve --threads 1 | 1,000 | 1,000 | 5,000 | 4.00 | **met** |", doc)


class BrpcJsonTest(unittest.TestCase):
    def brpc_json(self, text):
        done = subprocess.run(["bash", "-c", f'. "{LIB}"; brpc_json'], input=text,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_summary_line_becomes_the_harpc_bench_schema(self):
        out = self.brpc_json("I1202 log line\nqps=9990 p50_us=867.9 p99_us=2559.6 errors=10 "
                             "p999_us=5040.9 calls=19980 secs=2.00\n")
        # qps counts every call, failed ones too, as harpc bench's does; latencies in ms.
        self.assertEqual(json.loads(out), {
            "requests": 19990, "ok": 19980, "errors": 10, "qps": 9995.0,
            "latency_ms": {"p50": 0.868, "p99": 2.56, "p999": 5.041}})

    def test_no_summary_line_gives_nothing(self):
        self.assertEqual(self.brpc_json("E1202 Fail to connect\n"), "")


if __name__ == "__main__":
    unittest.main()
