# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Interop: the harpc client with --protocol jsonrpc against a JSON-RPC 2.0
server that is not harpc (jsonrpc_server.py, written from the specification),
and what the default protocol makes of that server's refusals.

Usage: /usr/bin/python3 jsonrpc_client_test.py PATH_TO_HARPC [unittest args]
"""

import json
import os
import sys
import unittest

sys.dont_write_bytecode = True
import requests  # noqa: E402

from interop_util import PYTHON, Child, harpc_binary, poll_until, run  # noqa: E402

HARPC = None
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jsonrpc_server.py")
ENVELOPE = {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}


class JsonRpcClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Child([PYTHON, SERVER])
        cls.target = cls.server.address
        poll_until(lambda: requests.post(cls.server.url("/rpc"), json=ENVELOPE, timeout=1).status_code == 200, 10,
                   "the JSON-RPC server to answer")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertTrue(self.server.running(), "the JSON-RPC server died: " + self.server.stderr())

    def call(self, *args):
        # No heartbeats: this server has no /health.
        return run([HARPC, "call", "--health-interval-ms", "0", *args], timeout=30)

    def test_call_prints_the_result_only(self):
        r = self.call("--protocol", "jsonrpc", self.target, "add", "[1,2]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "3\n")
        r = self.call("--protocol", "jsonrpc", self.target, "add", '{"a":2.5,"b":4}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), 6.5)

    def test_other_path(self):
        r = self.call("--protocol", "jsonrpc", "--jsonrpc-path", "/api/v1", self.target, "add", "[40,2]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "42\n")

    def test_error_objects_exit_1_with_one_line_keeping_code_and_message(self):
        r = self.call("--protocol", "jsonrpc", self.target, "fail", "[]")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("the answer is no", r.stderr)
        self.assertIn("JSON-RPC error 42", r.stderr)

        r = self.call("--protocol", "jsonrpc", self.target, "add", '["x",1]')
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)
        self.assertIn("Invalid params", r.stderr)

        r = self.call("--protocol", "jsonrpc", self.target, "nosuch", "[]")
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNIMPLEMENTED", r.stderr)

    def test_params_that_json_rpc_cannot_carry_are_refused_before_sending(self):
        r = self.call("--protocol", "jsonrpc", self.target, "add", "7")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("array or an object", r.stderr)

    def test_the_default_protocol_reports_the_refusal_instead_of_printing_it(self):
        # POST /rpc/add with [1,2]: this server reads a batch of two invalid
        # requests and answers HTTP 200 with two errors. That is an error.
        r = self.call(self.target, "add", "[1,2]")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertIn("Invalid Request", r.stderr)
        r = self.call(self.target, "add", '{"a":1,"b":2}')
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("Invalid Request", r.stderr)

    def test_bench_counts_answers_and_refusals_apart(self):
        bench = [HARPC, "bench", self.target, "--health-interval-ms", "0", "--method", "add",
                 "--data", "[1,2]", "--requests", "50", "--concurrency", "2", "--json"]
        r = run(bench + ["--protocol", "jsonrpc"], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["ok"], report["errors"]), (50, 0), report)

        r = run(bench, timeout=60)
        report = json.loads(r.stdout)
        self.assertEqual((report["ok"], report["errors"]), (0, 50), report)


if __name__ == "__main__":
    HARPC = harpc_binary()
    unittest.main(verbosity=2)
