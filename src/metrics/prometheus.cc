// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "metrics/prometheus.h"

#include <array>
#include <cstdio>

namespace harpc::metrics {

namespace {
// Bucket bounds for latency, in seconds: 100 us to 10 s.
constexpr std::array<double, 16> kLatencyBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::string_view labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
  out_ += FormatDouble(value);
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::string_view labels, uint64_t value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusWriter::Latency(std::string_view name, std::string_view labels, const Histogram& h) {
  std::string prefix(labels);
  if (!prefix.empty()) prefix += ',';
  std::string bucket = std::string(name) + "_bucket";
  for (double bound : kLatencyBounds) {
    auto us = static_cast<uint64_t>(bound * 1e6);
    Sample(bucket, prefix + "le=\"" + FormatDouble(bound) + "\"", h.CountAtOrBelow(us));
  }
  Sample(bucket, prefix + "le=\"+Inf\"", h.count());
  Sample(std::string(name) + "_sum", labels, static_cast<double>(h.sum_micros()) / 1e6);
  Sample(std::string(name) + "_count", labels, h.count());
}

std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace harpc::metrics
