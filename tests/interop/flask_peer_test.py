# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Interop: the harpc client (`harpc call`, `harpc bench`) against a plain
Flask server (the Flask example in docs/protocol.md), which knows nothing of harpc but POST /rpc.

Usage: /usr/bin/python3 flask_peer_test.py PATH_TO_HARPC [unittest args]
"""

import json
import os
import sys
import unittest

sys.dont_write_bytecode = True
import requests  # noqa: E402

from interop_util import PYTHON, Child, harpc_binary, poll_until, run  # noqa: E402

HARPC = None
FLASK_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flask_echo_server.py")


class FlaskPeerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.flask = Child([PYTHON, FLASK_SERVER])
        cls.target = cls.flask.address
        # Readiness: the Flask app answers a POST.
        poll_until(lambda: requests.post(cls.flask.url("/rpc"), json={}, timeout=1).status_code == 200, 10,
                   "the Flask server to answer POST /rpc")

    @classmethod
    def tearDownClass(cls):
        cls.flask.stop()

    def setUp(self):
        self.assertTrue(self.flask.running(), "the Flask server died: " + self.flask.stderr())

    def call(self, *args):
        return run([HARPC, "call", *args], timeout=30)

    def test_call_default_method_prints_the_echo(self):
        r = self.call(self.target, "/", '{"key":"value"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, '{"key":"value"}\n')

    def test_call_with_list_target_and_other_values(self):
        payload = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"a": {}}}
        r = self.call("list://" + self.target + "=3", "/", json.dumps(payload))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)  # one line
        self.assertEqual(json.loads(r.stdout), payload)

        r = self.call(self.target, "/", "[1,2,3]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "[1,2,3]\n")

    def test_call_named_method_gets_flask_404(self):
        # Flask has no /rpc/Echo.echo: its HTML 404 maps to UNIMPLEMENTED.
        r = self.call(self.target, "Echo.echo", '{"key":"value"}')
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertIn("UNIMPLEMENTED", r.stderr)
        self.assertIn("404", r.stderr)

    def test_bench_json_report(self):
        r = run([HARPC, "bench", self.target, "--requests", "200", "--concurrency", "4", "--json"], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        report = json.loads(lines[0])
        self.assertEqual(report["requests"], 200, report)
        self.assertEqual(report["ok"], 200, report)
        self.assertEqual(report["errors"], 0, report)
        self.assertEqual(report["per_endpoint"], {self.target: 200}, report)
        self.assertEqual(report["error_kinds"], {}, report)
        for key in ("retries", "hedges", "qps", "latency_ms"):
            self.assertIn(key, report)
        latency = report["latency_ms"]
        self.assertGreater(report["qps"], 0)
        self.assertLessEqual(latency["p50"], latency["p99"])
        self.assertLessEqual(latency["p99"], latency["p999"])
        self.assertLessEqual(latency["p999"], latency["max"])

    def test_bench_named_data(self):
        r = run([HARPC, "bench", self.target, "--requests", "20", "--concurrency", "2", "--json",
                 "--data", '{"k":[1,2]}'], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["ok"], 20, report)


if __name__ == "__main__":
    HARPC = harpc_binary()
    unittest.main(verbosity=2)
