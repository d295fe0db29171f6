// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Prometheus text exposition (format 0.0.4), written by hand: it is small.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/histogram.h"

namespace harpc::metrics {

class PrometheusWriter {
 public:
  // Each family gets its # HELP and # TYPE lines once, before its first sample.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // labels: already formatted, e.g. method="Echo.echo"; may be empty.
  void Sample(std::string_view name, std::string_view labels, double value);
  void Sample(std::string_view name, std::string_view labels, uint64_t value);
  // Emits _bucket (cumulative, seconds), _sum and _count for a latency histogram.
  void Latency(std::string_view name, std::string_view labels, const Histogram& h);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabel(std::string_view value);

}  // namespace harpc::metrics
