# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""deploy/ holds what operators load into Prometheus and Grafana. This test
checks it the way they would: promtool accepts the rules, the rules' unit
tests and the example configuration; the dashboard is a Grafana dashboard
whose every panel queries through the datasource variable; and every metric
the rules and the dashboard name, with every label value they match on
exactly, is on the /metrics page of real harpc daemons (a sentinel, servers,
banks, a coordinator that ran a transfer, a replicated coordinator group),
started here on 127.0.0.1 and stopped by PID.

Usage: deploy_test.py PATH_TO_HARPC [unittest args]"""

import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
from interop_util import Child, free_listen_port, harpc_binary, poll_until, run  # noqa: E402

HARPC = harpc_binary()
DEPLOY = os.path.normpath(os.path.join(HERE, "..", "..", "deploy"))
RULES = os.path.join(DEPLOY, "prometheus", "harpc.rules.yml")
RULE_TESTS = os.path.join(DEPLOY, "prometheus", "harpc.rules.test.yml")
CONFIG = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "harpc-dashboard.json")
OBSERVABILITY_DOC = os.path.join(DEPLOY, "..", "docs", "observability.md")
PROMTOOL = "/usr/bin/promtool"  # Debian's prometheus package (scripts/setup)

# Labels the scrape adds, and those whose values come from the dashboard's variables.
SCRAPE_LABELS = {"job", "instance"}
# Metrics Prometheus itself makes for every target.
PROMETHEUS_METRICS = {"up"}

SELECTOR = re.compile(r"\b(harpc_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
RECORDED = re.compile(r"\bharpc:[a-z0-9_:]+")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def setUpModule():
    if not os.access(PROMTOOL, os.X_OK):
        raise RuntimeError(f"{PROMTOOL} is missing: install Debian's prometheus package (scripts/setup does)")


def read(path):
    with open(path) as f:
        return f.read()


def promtool(*args):
    result = run([PROMTOOL, *args], timeout=120)
    return result.returncode, result.stdout + result.stderr


def rule_expressions():
    """(name, expr) of every rule in harpc.rules.yml, and the recorded names.
    A small reader of the file's own layout: `- record:`/`- alert:` lines,
    then `expr:` on one line or as a `|` block."""
    exprs, recorded = [], set()
    lines = read(RULES).splitlines()
    i = 0
    name = None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("- record:") or line.startswith("- alert:"):
            name = line.split(":", 1)[1].strip()
            if line.startswith("- record:"):
                recorded.add(name)
        elif line.startswith("expr:"):
            text = line[len("expr:"):].strip()
            if text == "|":
                indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
                block = []
                while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                              len(lines[i + 1]) - len(lines[i + 1].lstrip()) >= indent):
                    i += 1
                    block.append(lines[i].strip())
                text = " ".join(block)
            exprs.append((name, text))
        i += 1
    return exprs, recorded


def dashboard_expressions(dashboard):
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            out.append((f"variable {variable['name']}", variable["query"]))
    return out


def request(address, method, path, body=None, headers=None):
    """(HTTP status, body text) of one request."""
    req = urllib.request.Request(f"http://{address}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(address):
    status, text = request(address, "GET", "/metrics")
    if status != 200:
        raise AssertionError(f"GET {address}/metrics: HTTP {status}: {text}")
    return text


def families(text):
    """{metric name: [labels dict of each sample]}; a histogram's samples
    are under name_bucket, name_sum and name_count."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names = [name + s for s in ("_bucket", "_sum", "_count")] if kind == "histogram" else [name]
            for n in names:
                out.setdefault(n, [])
            continue
        match = SAMPLE.match(line)
        if match:
            out.setdefault(match.group(1), []).append(dict(LABEL.findall(match.group(2) or "")))
    return out


class Promtool(unittest.TestCase):
    def test_rules_are_valid(self):
        code, output = promtool("check", "rules", RULES)
        self.assertEqual(code, 0, output)
        self.assertIn("SUCCESS", output)

    def test_rule_unit_tests_pass(self):
        code, output = promtool("test", "rules", RULE_TESTS)  # names the rules relative to itself
        self.assertEqual(code, 0, output)
        self.assertIn("SUCCESS", output)

    def test_every_alert_has_a_unit_test_and_severity_and_annotations(self):
        exprs, recorded = rule_expressions()
        alerts = [name for name, _ in exprs if name not in recorded]
        tests = read(RULE_TESTS)
        text = read(RULES)
        self.assertGreaterEqual(len(alerts), 10)
        for alert in alerts:
            self.assertIn(f"alertname: {alert}\n", tests, f"{alert} has no promtool unit test")
            block = text.split(f"- alert: {alert}\n", 1)[1].split("- alert:", 1)[0]
            self.assertRegex(block, r"severity: (critical|warning)", alert)
            self.assertIn("summary:", block, alert)
            self.assertIn("description:", block, alert)

    def check_config(self, text):
        """promtool checks that the files a configuration names exist: the
        copy checked here points them at files made for the check."""
        self.assertEqual(text.count("credentials_file:"), text.count("job_name:"),
                         "every job sends the bearer token")
        with tempfile.TemporaryDirectory() as tmp:
            for path in sorted(set(re.findall(r"/etc/prometheus/[\w.-]+", text))):
                with open(os.path.join(tmp, os.path.basename(path)), "w") as f:
                    f.write("placeholder\n")
            with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
                f.write(text.replace("/etc/prometheus/", tmp + "/"))
            shutil.copy(RULES, tmp)
            code, output = promtool("check", "config", os.path.join(tmp, "prometheus.yml"))
            self.assertEqual(code, 0, output)
            self.assertIn("SUCCESS: 1 rule files found", output)

    def test_example_config_is_valid(self):
        self.check_config(read(CONFIG))

    def test_documented_config_is_valid(self):
        """The scrape configuration docs/observability.md shows."""
        docs = read(OBSERVABILITY_DOC)
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "scrape_configs:" in b]
        self.assertEqual(len(blocks), 1, "docs/observability.md shows one scrape configuration")
        self.check_config(blocks[0])


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.dashboard = json.loads(read(DASHBOARD))

    def test_every_panel_queries_prometheus_through_the_datasource_variable(self):
        d = self.dashboard
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        for name in ("job", "instance"):
            self.assertEqual(variables[name]["datasource"]["uid"], "${datasource}", name)
        self.assertTrue(d["title"] and d["uid"])
        self.assertIsInstance(d["schemaVersion"], int)
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        graphs = [p for p in d["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(graphs), 15)
        for panel in graphs:
            where = panel["title"]
            self.assertIn(panel["type"], {"timeseries", "table", "stat", "gauge", "state-timeline"}, where)
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"}, where)
            self.assertTrue(panel["targets"], where)
            ref_ids = [t["refId"] for t in panel["targets"]]
            self.assertEqual(len(ref_ids), len(set(ref_ids)), where)
            for target in panel["targets"]:
                self.assertTrue(target["expr"].strip(), where)
                self.assertEqual(target["datasource"]["uid"], "${datasource}", where)

    def test_panels_fit_the_grid_without_overlapping(self):
        taken = set()
        for panel in self.dashboard["panels"]:
            g = panel["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, panel["title"])
            cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            self.assertFalse(cells & taken, f"{panel['title']} overlaps another panel")
            taken |= cells

    def test_it_shows_what_operators_watch(self):
        exprs = " ".join(e for _, e in dashboard_expressions(self.dashboard))
        for needed in ["rate(harpc_server_requests_total", "histogram_quantile(0.99",
                       "harpc_server_request_duration_seconds_bucket", "harpc_client_endpoint_state",
                       "harpc_client_endpoint_circuit_opens_total", "harpc_client_retries_total",
                       "harpc_client_retry_budget_exhausted_total", "harpc_client_hedges_total",
                       "harpc_sentinel_instances", "harpc_txn_phase_two_pending", "harpc_txn_phase_two_unresolved",
                       'harpc_txn_participant_calls{job=~"$job",instance=~"$instance",state="prepared"}']:
            self.assertIn(needed, exprs)


class MetricsExist(unittest.TestCase):
    """Every name the rules and the dashboard use is on a daemon's /metrics."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.children = []
        try:
            cls.start_daemons()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for child in reversed(cls.children):
            child.stop()
        cls.tmp.cleanup()

    @classmethod
    def start(cls, *args):
        child = Child([HARPC, *args])
        cls.children.append(child)
        return child

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    @classmethod
    def start_daemons(cls):
        sentinel = cls.start("sentinel", "--listen", "127.0.0.1:0", "--data-dir", cls.path("sentinel"))
        echo = cls.start("serve", "--listen", "127.0.0.1:0", "--threads", "1",
                         "--register", f"sentinel://{sentinel.address}")
        coordinator = cls.start("coordinator", "--listen", "127.0.0.1:0", "--data-dir", cls.path("coordinator"))
        banks = [cls.start("serve", "--service", "bank", "--listen", "127.0.0.1:0", "--threads", "1",
                           "--db", cls.path(f"bank-{i}.db"), "--coordinator", coordinator.address) for i in (0, 1)]
        for bank, (account, balance) in zip(banks, [("alice", 100), ("bob", 0)]):
            opened = run([HARPC, "call", bank.address, "Bank.open", json.dumps({"account": account, "balance": balance})])
            assert opened.returncode == 0, opened.stderr
        transfer = run([HARPC, "transfer", "--coordinator", coordinator.address,
                        "--from", f"list://{banks[0].address}", "--from-account", "alice",
                        "--to", f"list://{banks[1].address}", "--to-account", "bob", "--amount", "5"])
        assert transfer.returncode == 0, transfer.stdout + transfer.stderr
        ports = [free_listen_port() for _ in range(3)]
        members = ",".join(f"127.0.0.1:{p}" for p in ports)
        group = [cls.start("coordinator", "--listen", f"127.0.0.1:{p}", "--data-dir", cls.path(f"member-{p}"),
                           "--group", members) for p in ports]
        # The echo server registers; the sentinel lists it as up.
        poll_until(lambda: 'harpc_sentinel_instances{state="up"} 1' in scrape(sentinel.address), 15,
                   "the echo server to be registered with the sentinel")
        poll_until(lambda: any('harpc_group_role{role="leader"} 1' in scrape(m.address) for m in group), 30,
                   "the coordinator group to elect a leader")
        # The families written only once they count something: an HTTP error,
        # a JSON-RPC rejection, and a call refused because its deadline had passed.
        request(echo.address, "GET", "/nowhere")
        request(echo.address, "POST", "/rpc", b"not json")
        request(echo.address, "POST", "/rpc/Echo.echo", b"{}", {"X-Deadline-Ms": "0"})
        cls.exposed = {}
        for child in [sentinel, echo, coordinator, *banks, *group]:
            for name, samples in families(scrape(child.address)).items():
                cls.exposed.setdefault(name, []).extend(samples)

    def used(self):
        exprs, recorded = rule_expressions()
        exprs += dashboard_expressions(json.loads(read(DASHBOARD)))
        return exprs, recorded

    def test_every_metric_and_matched_label_value_is_exposed(self):
        exprs, recorded = self.used()
        checked = set()
        for where, expr in exprs:
            for name in RECORDED.findall(expr):
                self.assertIn(name, recorded, f"{where}: {name} is recorded by no rule")
            for name, matchers in SELECTOR.findall(expr):
                self.assertTrue(name in self.exposed, f"{where}: no harpc daemon exposes {name}")
                checked.add(name)
                for label, op, value in MATCHER.findall(matchers or ""):
                    if label in SCRAPE_LABELS:
                        continue
                    samples = self.exposed[name]
                    self.assertTrue(any(label in s for s in samples),
                                    f"{where}: {name} has no label {label}: {samples[:5]}")
                    if op == "=":
                        self.assertTrue(any(s.get(label) == value for s in samples),
                                        f"{where}: no {name} series has {label}=\"{value}\" "
                                        f"(seen: {sorted({s.get(label) for s in samples if label in s})})")
            for name in re.findall(r"(?<![\w:])([a-zA-Z_:][\w:]*)\{", expr):
                if not name.startswith("harpc"):
                    self.assertIn(name, PROMETHEUS_METRICS, f"{where}: {name} is not a harpc metric")
        self.assertGreaterEqual(len(checked), 30)

    def test_grouping_labels_exist(self):
        """The labels rules and panels group by are on the metrics they group."""
        exprs, _ = self.used()
        for where, expr in exprs:
            for by, inner in re.findall(r"by \(([^)]*)\)\s*\((.*)", expr):
                names = [n for n, _ in SELECTOR.findall(inner)]
                if not names:
                    continue  # a recorded series: checked by promtool's unit tests
                samples = self.exposed[names[0]]
                for label in (l.strip() for l in by.split(",")):
                    if label in SCRAPE_LABELS:
                        continue
                    self.assertTrue(any(label in s for s in samples),
                                    f"{where}: {names[0]} has no label {label} to group by")


class ScrapeWithToken(unittest.TestCase):
    """What the scrape configuration relies on: with --auth-file, /metrics
    answers 401 without a token and 200 to a `client` token sent as
    `Authorization: Bearer` (what credentials_file makes Prometheus send)."""

    def test_metrics_needs_a_client_token(self):
        with tempfile.TemporaryDirectory() as tmp:
            token = "prometheus-" + os.urandom(16).hex()
            auth_file = os.path.join(tmp, "auth")
            with open(auth_file, "w") as f:
                f.write(f"client {token}\n")
            server = Child([HARPC, "serve", "--listen", "127.0.0.1:0", "--threads", "1", "--auth-file", auth_file])
            try:
                status, _ = request(server.address, "GET", "/metrics")
                self.assertEqual(status, 401)
                status, _ = request(server.address, "GET", "/metrics", headers={"Authorization": "Bearer wrong"})
                self.assertEqual(status, 401)
                status, text = request(server.address, "GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
                self.assertEqual(status, 200, text)
                self.assertIn("# TYPE harpc_server_requests_total counter", text)
                self.assertEqual(request(server.address, "GET", "/health")[0], 200)
            finally:
                server.stop()


if __name__ == "__main__":
    unittest.main()
