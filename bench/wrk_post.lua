-- Copyright 2026 The harpc Authors
-- SPDX-License-Identifier: Apache-2.0
--
-- wrk script for bench/run.sh: POST /rpc with {"key":"value"} (harpc's default
-- method echoes it; nginx returns the same body), then one JSON line of results.
wrk.method = "POST"
wrk.path = "/rpc"
wrk.body = '{"key":"value"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"non_2xx":%d,' ..
    '"socket_errors":%d,"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, seconds, summary.requests / seconds, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
