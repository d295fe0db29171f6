# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""Interop: a plain Python `requests` client against `harpc serve`.

Usage: /usr/bin/python3 requests_client_test.py PATH_TO_HARPC [unittest args]
"""

import signal
import sys
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
import requests  # noqa: E402

from interop_util import Child, harpc_binary, poll_until  # noqa: E402

HARPC = None
TIMEOUT = 10  # seconds, for every HTTP request


def start_server(*extra):
    server = Child([HARPC, "serve", "--listen", "127.0.0.1:0", "--threads", "1", *extra])
    # Readiness: /health answers SERVING.
    poll_until(lambda: requests.get(server.url("/health"), timeout=1).status_code == 200, 10,
               "harpc serve to answer /health")
    return server


class RequestsClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server()
        cls.rpc = cls.server.url("/rpc")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertTrue(self.server.running(), "harpc serve died: " + self.server.stderr())

    def post_rpc(self, payload):
        r = requests.post(self.rpc, json=payload, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        return r.json()

    # --- the form of a plain requests client: the default method ---

    def test_seed_client_gets_its_json_back(self):
        self.assertEqual(requests.post(self.rpc, json={"key": "value"}, timeout=TIMEOUT).json(),
                         {"key": "value"})

    def test_default_method_round_trips_any_object(self):
        payload = {"text": "héllo ✓ \"quoted\" \\ back", "n": [1, 2.5, None, True, False],
                   "nested": {"deep": {"deeper": []}}, "big": 2 ** 53, "neg": -7}
        self.assertEqual(self.post_rpc(payload), payload)

    def test_keep_alive_session(self):
        with requests.Session() as s:
            for i in range(50):
                r = s.post(self.rpc, json={"i": i}, timeout=TIMEOUT)
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.json(), {"i": i})

    # --- JSON-RPC 2.0 ---

    def test_jsonrpc_call(self):
        reply = self.post_rpc({"jsonrpc": "2.0", "method": "Echo.echo", "params": {"a": [1, 2]}, "id": 7})
        self.assertEqual(reply, {"jsonrpc": "2.0", "result": {"a": [1, 2]}, "id": 7})
        reply = self.post_rpc({"jsonrpc": "2.0", "method": "Echo.echo", "params": ["x"], "id": "req-1"})
        self.assertEqual(reply, {"jsonrpc": "2.0", "result": ["x"], "id": "req-1"})

    def test_jsonrpc_batch(self):
        reply = self.post_rpc([
            {"jsonrpc": "2.0", "method": "Echo.echo", "params": [1], "id": 1},
            {"jsonrpc": "2.0", "method": "Echo.echo", "params": [2]},  # notification: no reply
            {"jsonrpc": "2.0", "method": "No.such", "id": 3},
            {"jsonrpc": "2.0", "method": "Echo.echo", "params": {"b": 2}, "id": 4},
        ])
        self.assertIsInstance(reply, list)
        self.assertEqual(len(reply), 3, reply)
        self.assertEqual(reply[0], {"jsonrpc": "2.0", "result": [1], "id": 1})
        self.assertEqual(reply[1]["id"], 3)
        self.assertEqual(reply[1]["error"]["code"], -32601)
        self.assertEqual(reply[2], {"jsonrpc": "2.0", "result": {"b": 2}, "id": 4})

    def test_jsonrpc_notification_gets_204(self):
        r = requests.post(self.rpc, json={"jsonrpc": "2.0", "method": "Echo.echo", "params": [1]},
                          timeout=TIMEOUT)
        self.assertEqual(r.status_code, 204)
        self.assertEqual(r.content, b"")
        r = requests.post(self.rpc, json=[{"jsonrpc": "2.0", "method": "Echo.echo"}], timeout=TIMEOUT)
        self.assertEqual(r.status_code, 204)

    def test_jsonrpc_errors(self):
        r = requests.post(self.rpc, data=b'{"jsonrpc": "2.0", "method":',
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["error"]["code"], -32700)
        self.assertIsNone(r.json()["id"])

        self.assertEqual(self.post_rpc(42)["error"]["code"], -32600)
        self.assertEqual(self.post_rpc([])["error"]["code"], -32600)
        reply = self.post_rpc({"jsonrpc": "1.0", "method": "Echo.echo", "id": 5})
        self.assertEqual(reply["error"]["code"], -32600)
        self.assertEqual(reply["id"], 5)
        reply = self.post_rpc({"jsonrpc": "2.0", "method": "No.such", "id": 6})
        self.assertEqual(reply["error"]["code"], -32601)
        self.assertIn("No.such", reply["error"]["message"])
        reply = self.post_rpc({"jsonrpc": "2.0", "method": "Echo.echo", "params": "scalar", "id": 8})
        self.assertEqual(reply["error"]["code"], -32600)

    def test_jsonrpc_deadline_already_passed(self):
        r = requests.post(self.rpc, json={"jsonrpc": "2.0", "method": "Echo.echo", "id": 1},
                          headers={"X-Deadline-Ms": "0"}, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["error"]["code"], -32004)

    # --- POST /rpc/<Method> ---

    def test_named_method(self):
        r = requests.post(self.server.url("/rpc/Echo.echo"), json={"key": "value"}, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"key": "value"})
        r = requests.post(self.server.url("/rpc/Echo.echo"), json=[1, "two", None], timeout=TIMEOUT)
        self.assertEqual(r.json(), [1, "two", None])

    def test_named_method_error_bodies(self):
        r = requests.post(self.server.url("/rpc/No.such"), json={}, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 404)
        self.assertEqual(r.json()["error"]["code"], -32601)
        self.assertIn("No.such", r.json()["error"]["message"])

        r = requests.post(self.server.url("/rpc/Echo.echo"), data=b"{not json",
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r.json()["error"]["code"], -32700)

        r = requests.post(self.server.url("/rpc/Echo.echo"), json={}, headers={"X-Deadline-Ms": "soon"},
                          timeout=TIMEOUT)
        self.assertEqual(r.status_code, 400)
        self.assertIn("X-Deadline-Ms", r.json()["error"]["message"])

        r = requests.post(self.server.url("/rpc/Echo.echo"), json={}, headers={"X-Deadline-Ms": "0"},
                          timeout=TIMEOUT)
        self.assertEqual(r.status_code, 504)
        self.assertEqual(r.json()["error"]["code"], -32004)

    def test_routing_errors(self):
        r = requests.get(self.rpc, timeout=TIMEOUT)
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers.get("Allow"), "POST")
        self.assertIn("error", r.json())
        r = requests.get(self.server.url("/nope"), timeout=TIMEOUT)
        self.assertEqual(r.status_code, 404)
        self.assertIn("no such path", r.json()["error"]["message"])
        r = requests.post(self.server.url("/health"), timeout=TIMEOUT)
        self.assertEqual(r.status_code, 405)

    # --- built-in endpoints ---

    def test_health(self):
        r = requests.get(self.server.url("/health"), timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.text.strip(), "SERVING")

    def test_metrics_and_status(self):
        requests.post(self.server.url("/rpc/Echo.echo"), json={}, timeout=TIMEOUT)
        r = requests.get(self.server.url("/metrics"), timeout=TIMEOUT)
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        self.assertIn("# TYPE harpc_server_requests_total counter", r.text)
        self.assertIn('harpc_server_requests_total{method="Echo.echo",code="OK"}', r.text)

        status = requests.get(self.server.url("/status"), timeout=TIMEOUT).json()
        self.assertEqual(status["state"], "SERVING")
        self.assertEqual(status["address"], self.server.address)
        names = {m["name"]: m for m in status["methods"]}
        self.assertIn("Echo.echo", names)
        self.assertTrue(names["Echo.echo"]["default"])
        self.assertTrue(names["Echo.echo"]["idempotent"])
        self.assertGreaterEqual(names["Echo.echo"]["requests"], 1)


class GracefulShutdownTest(unittest.TestCase):
    def test_sigterm_stops_the_server_cleanly(self):
        server = start_server("--grace-ms", "2000")
        try:
            self.assertEqual(requests.post(server.url("/rpc"), json={"a": 1}, timeout=TIMEOUT).json(), {"a": 1})
            server.signal(signal.SIGTERM)
            self.assertEqual(server.wait(10), 0, server.stderr())
        finally:
            server.stop()


if __name__ == "__main__":
    HARPC = harpc_binary()
    unittest.main(verbosity=2)
