// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// metrics::PrometheusWriter: the exact exposition text (format 0.0.4).
#include "metrics/prometheus.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace harpc::metrics {
namespace {

TEST(PrometheusWriter, Counter) {
  PrometheusWriter w;
  w.Family("harpc_calls_total", "counter", "Calls made.");
  w.Sample("harpc_calls_total", "method=\"Echo.echo\"", uint64_t{42});
  w.Sample("harpc_calls_total", "method=\"Bank.open\"", uint64_t{0});
  EXPECT_EQ(w.text(),
            "# HELP harpc_calls_total Calls made.\n"
            "# TYPE harpc_calls_total counter\n"
            "harpc_calls_total{method=\"Echo.echo\"} 42\n"
            "harpc_calls_total{method=\"Bank.open\"} 0\n");
}

TEST(PrometheusWriter, LargeCountersArePrintedInFull) {
  PrometheusWriter w;
  w.Sample("c_total", "", uint64_t{18446744073709551615u});
  EXPECT_EQ(w.text(), "c_total 18446744073709551615\n");
}

TEST(PrometheusWriter, GaugeWithoutLabels) {
  PrometheusWriter w;
  w.Family("harpc_in_flight", "gauge", "Calls being handled now.");
  w.Sample("harpc_in_flight", "", 3.0);
  w.Sample("harpc_ratio", "", 0.25);
  w.Sample("harpc_small", "", 0.0001);
  w.Sample("harpc_neg", "", -1.5);
  EXPECT_EQ(w.text(),
            "# HELP harpc_in_flight Calls being handled now.\n"
            "# TYPE harpc_in_flight gauge\n"
            "harpc_in_flight 3\n"
            "harpc_ratio 0.25\n"
            "harpc_small 0.0001\n"
            "harpc_neg -1.5\n");
}

TEST(PrometheusWriter, HistogramHasCumulativeBucketsInfSumAndCount) {
  auto h = std::make_unique<Histogram>();
  h->RecordMicros(50);        // <= 100 us
  h->RecordMicros(300);       // <= 500 us
  h->RecordMicros(2000);      // <= 2.5 ms
  h->RecordMicros(2000000);   // 2 s: <= 2.5 s
  h->RecordMicros(20000000);  // 20 s: only +Inf
  PrometheusWriter w;
  w.Family("rpc_seconds", "histogram", "Time spent.");
  w.Latency("rpc_seconds", "method=\"m\"", *h);
  EXPECT_EQ(w.text(),
            "# HELP rpc_seconds Time spent.\n"
            "# TYPE rpc_seconds histogram\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.0001\"} 1\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.00025\"} 1\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.0005\"} 2\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.001\"} 2\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.0025\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.005\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.01\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.025\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.05\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.1\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.25\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"0.5\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"1\"} 3\n"
            "rpc_seconds_bucket{method=\"m\",le=\"2.5\"} 4\n"
            "rpc_seconds_bucket{method=\"m\",le=\"5\"} 4\n"
            "rpc_seconds_bucket{method=\"m\",le=\"10\"} 4\n"
            "rpc_seconds_bucket{method=\"m\",le=\"+Inf\"} 5\n"
            "rpc_seconds_sum{method=\"m\"} 22.00235\n"
            "rpc_seconds_count{method=\"m\"} 5\n");
}

TEST(PrometheusWriter, HistogramWithoutLabels) {
  auto h = std::make_unique<Histogram>();
  PrometheusWriter w;
  w.Latency("x", "", *h);
  const std::string& t = w.text();
  EXPECT_NE(t.find("x_bucket{le=\"0.0001\"} 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("x_bucket{le=\"+Inf\"} 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nx_sum 0\n"), std::string::npos) << t;
  EXPECT_TRUE(t.ends_with("\nx_count 0\n")) << t;
}

TEST(PrometheusWriter, TakeEmptiesTheWriter) {
  PrometheusWriter w;
  w.Sample("a", "", uint64_t{1});
  EXPECT_EQ(w.Take(), "a 1\n");
  w.Sample("b", "", uint64_t{2});
  EXPECT_EQ(w.text(), "b 2\n");
}

TEST(PrometheusWriter, LabelEscaping) {
  EXPECT_EQ(EscapeLabel("Echo.echo"), "Echo.echo");
  EXPECT_EQ(EscapeLabel(""), "");
  EXPECT_EQ(EscapeLabel("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabel("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(EscapeLabel("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabel("\\\"\n"), "\\\\\\\"\\n");
  EXPECT_EQ(EscapeLabel("tab\tand ünïcode"), "tab\tand ünïcode");  // left as is

  PrometheusWriter w;
  w.Sample("m_total", "method=\"" + EscapeLabel("we\"ird\\name\n") + "\"", uint64_t{1});
  EXPECT_EQ(w.text(), "m_total{method=\"we\\\"ird\\\\name\\n\"} 1\n");
}

}  // namespace
}  // namespace harpc::metrics
