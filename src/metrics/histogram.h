// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A lock-free log-linear latency histogram (HdrHistogram's idea): values in
// microseconds fall in buckets whose width is 1/16 of their power of two, so
// any percentile is within ~6 % of the truth at any scale, in fixed memory.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace harpc::metrics {

class Histogram {
 public:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (40 - kSubBits) * kSub;  // up to ~2^40 us (12 days)

  void Record(std::chrono::microseconds d) { RecordMicros(d.count() < 0 ? 0 : d.count()); }
  void RecordMicros(uint64_t us);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum_micros() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t max_micros() const { return max_.load(std::memory_order_relaxed); }

  // The value at quantile q in [0, 1], in microseconds (upper edge of its bucket,
  // capped by the largest value seen). 0 when empty.
  double QuantileMicros(double q) const;
  // How many recorded values are <= us (by bucket upper edges).
  uint64_t CountAtOrBelow(uint64_t us) const;

  void Merge(const Histogram& other);
  void Reset();

  static int BucketOf(uint64_t us);
  static uint64_t BucketUpperEdge(int bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace harpc::metrics
