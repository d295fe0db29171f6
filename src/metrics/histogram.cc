// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace harpc::metrics {

int Histogram::BucketOf(uint64_t us) {
  if (us < kSub) return static_cast<int>(us);
  int msb = 63 - std::countl_zero(us);  // >= kSubBits
  int shift = msb - kSubBits;           // drop bits below the sub-bucket
  int sub = static_cast<int>((us >> shift) & (kSub - 1));
  int bucket = (shift + 1) * kSub + sub;
  return std::min(bucket, kBuckets - 1);
}

uint64_t Histogram::BucketUpperEdge(int bucket) {
  if (bucket < kSub) return static_cast<uint64_t>(bucket);
  int shift = bucket / kSub - 1;
  uint64_t sub = static_cast<uint64_t>(bucket % kSub);
  return (((kSub + sub + 1) << shift) - 1);
}

void Histogram::RecordMicros(uint64_t us) {
  buckets_[BucketOf(us)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(us, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (us > seen && !max_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

double Histogram::QuantileMicros(double q) const {
  uint64_t total = count();
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b].load(std::memory_order_relaxed);
    if (seen >= rank) return static_cast<double>(std::min(BucketUpperEdge(b), max_micros()));
  }
  return static_cast<double>(max_micros());
}

uint64_t Histogram::CountAtOrBelow(uint64_t us) const {
  uint64_t n = 0;
  int last = BucketOf(us);
  // A bucket counts only when all of it lies at or below `us`.
  if (BucketUpperEdge(last) > us) --last;
  for (int b = 0; b <= last; ++b) n += buckets_[b].load(std::memory_order_relaxed);
  return n;
}

void Histogram::Merge(const Histogram& other) {
  for (int b = 0; b < kBuckets; ++b) {
    uint64_t v = other.buckets_[b].load(std::memory_order_relaxed);
    if (v) buckets_[b].fetch_add(v, std::memory_order_relaxed);
  }
  count_.fetch_add(other.count(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_micros(), std::memory_order_relaxed);
  uint64_t m = other.max_micros();
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (m > seen && !max_.compare_exchange_weak(seen, m, std::memory_order_relaxed)) {
  }
}

void Histogram::Reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_ = 0;
  sum_ = 0;
  max_ = 0;
}

}  // namespace harpc::metrics
