// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// metrics::Histogram: bucket edges, quantile accuracy, CountAtOrBelow, Merge, max.
#include "metrics/histogram.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace harpc::metrics {
namespace {

// Histogram holds ~600 atomics: keep it off the stack.
std::unique_ptr<Histogram> NewHistogram() { return std::make_unique<Histogram>(); }

// The smallest value that falls in `bucket`.
uint64_t BucketLowerEdge(int bucket) { return bucket == 0 ? 0 : Histogram::BucketUpperEdge(bucket - 1) + 1; }

void ExpectWithin(double got, double want, double tolerance, const char* what) {
  EXPECT_LE(std::fabs(got - want), tolerance * want) << what << ": got " << got << ", want " << want;
}

TEST(Histogram, SmallValuesHaveBucketsOfTheirOwn) {
  for (uint64_t v = 0; v < 32; ++v) {
    int b = Histogram::BucketOf(v);
    EXPECT_EQ(Histogram::BucketUpperEdge(b), v) << "value " << v;
    EXPECT_EQ(BucketLowerEdge(b), v) << "value " << v;
  }
}

TEST(Histogram, EveryBucketEdgeMapsBackToItsBucket) {
  for (int b = 0; b < Histogram::kBuckets; ++b) {
    const uint64_t upper = Histogram::BucketUpperEdge(b);
    const uint64_t lower = BucketLowerEdge(b);
    ASSERT_LE(lower, upper) << "bucket " << b;
    EXPECT_EQ(Histogram::BucketOf(upper), b) << "upper edge of bucket " << b;
    EXPECT_EQ(Histogram::BucketOf(lower), b) << "lower edge of bucket " << b;
    if (b + 1 < Histogram::kBuckets) {
      EXPECT_EQ(Histogram::BucketOf(upper + 1), b + 1) << "just above bucket " << b;
    }
    // Log-linear: above the exact buckets, a bucket is at most 1/16 of its lower edge wide.
    if (lower >= Histogram::kSub) {
      EXPECT_LE(static_cast<double>(upper - lower + 1), static_cast<double>(lower) / Histogram::kSub)
          << "bucket " << b << " [" << lower << ", " << upper << "]";
    }
  }
}

TEST(Histogram, BucketOfIsMonotonicAndContainsTheValue) {
  int previous = -1;
  for (uint64_t v = 0; v <= 200000; ++v) {
    int b = Histogram::BucketOf(v);
    ASSERT_GE(b, previous) << "value " << v;
    ASSERT_LE(v, Histogram::BucketUpperEdge(b)) << "value " << v;
    ASSERT_GE(v, BucketLowerEdge(b)) << "value " << v;
    previous = b;
  }
  // Around every power of two up to the top of the range, [0, 2^39).
  const uint64_t top = Histogram::BucketUpperEdge(Histogram::kBuckets - 1);
  EXPECT_EQ(top, (uint64_t{1} << 39) - 1);
  for (int p = 5; p < 39; ++p) {
    for (uint64_t v : {(uint64_t{1} << p) - 1, uint64_t{1} << p, (uint64_t{1} << p) + 1}) {
      int b = Histogram::BucketOf(v);
      EXPECT_LE(v, Histogram::BucketUpperEdge(b)) << "value " << v;
      EXPECT_GE(v, BucketLowerEdge(b)) << "value " << v;
    }
  }
}

TEST(Histogram, ValuesBeyondTheRangeLandInTheLastBucket) {
  EXPECT_EQ(Histogram::BucketOf(uint64_t{1} << 39), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::BucketOf(uint64_t{1} << 45), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::BucketOf(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, EmptyHistogramReportsZero) {
  auto h = NewHistogram();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->QuantileMicros(0.5), 0);
  EXPECT_EQ(h->QuantileMicros(1.0), 0);
  EXPECT_EQ(h->CountAtOrBelow(1000000), 0u);
  EXPECT_EQ(h->max_micros(), 0u);
}

TEST(Histogram, QuantilesOfAUniformDistributionWithin6Percent) {
  auto h = NewHistogram();
  constexpr uint64_t kN = 100000;
  for (uint64_t v = 1; v <= kN; ++v) h->RecordMicros(v);
  EXPECT_EQ(h->count(), kN);
  EXPECT_EQ(h->sum_micros(), kN * (kN + 1) / 2);
  EXPECT_EQ(h->max_micros(), kN);
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999}) {
    double want = std::ceil(q * kN);
    double got = h->QuantileMicros(q);
    ExpectWithin(got, want, 0.0625, "uniform quantile");
    EXPECT_GE(got, want) << "q=" << q << ": the upper bucket edge never under-reports";
  }
  EXPECT_EQ(h->QuantileMicros(1.0), kN);  // capped by the largest value seen
  EXPECT_EQ(h->QuantileMicros(0.0), 1);   // the smallest value's bucket
}

TEST(Histogram, QuantilesOfAGeometricSpreadWithin6Percent) {
  // Latencies spread over six orders of magnitude, 1000 of each.
  auto h = NewHistogram();
  std::vector<uint64_t> values;
  for (uint64_t v = 3; v < 5000000; v = v * 3 / 2 + 1) values.push_back(v);
  for (uint64_t v : values) {
    for (int i = 0; i < 1000; ++i) h->RecordMicros(v);
  }
  const double total = static_cast<double>(h->count());
  for (double q : {0.1, 0.3, 0.5, 0.7, 0.9, 0.99}) {
    // The value at rank ceil(q * count); each distinct value holds 1000 ranks.
    auto rank = static_cast<size_t>(std::ceil(q * total));
    double want = static_cast<double>(values[(rank + 999) / 1000 - 1]);
    ExpectWithin(h->QuantileMicros(q), want, 0.0625, "geometric quantile");
  }
}

TEST(Histogram, ABimodalDistributionSeparatesItsModes) {
  auto h = NewHistogram();
  for (int i = 0; i < 900; ++i) h->Record(std::chrono::microseconds(1200));
  for (int i = 0; i < 100; ++i) h->Record(std::chrono::milliseconds(80));
  ExpectWithin(h->QuantileMicros(0.5), 1200, 0.0625, "p50");
  ExpectWithin(h->QuantileMicros(0.89), 1200, 0.0625, "p89");
  EXPECT_EQ(h->QuantileMicros(0.91), 80000);  // the top bucket is capped by the max
  EXPECT_EQ(h->QuantileMicros(0.99), 80000);
  EXPECT_EQ(h->max_micros(), 80000u);
}

TEST(Histogram, AConstantIsReportedExactly) {
  auto h = NewHistogram();
  for (int i = 0; i < 1000; ++i) h->RecordMicros(1234);
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(h->QuantileMicros(q), 1234) << "q=" << q;
}

TEST(Histogram, OutOfRangeQuantilesAreClamped) {
  auto h = NewHistogram();
  for (uint64_t v = 1; v <= 100; ++v) h->RecordMicros(v);
  EXPECT_EQ(h->QuantileMicros(-1), h->QuantileMicros(0));
  EXPECT_EQ(h->QuantileMicros(7), 100);
}

TEST(Histogram, CountAtOrBelowCountsWholeBuckets) {
  auto h = NewHistogram();
  for (uint64_t v : {10, 20, 20, 100, 1000}) h->RecordMicros(v);
  EXPECT_EQ(h->CountAtOrBelow(0), 0u);
  EXPECT_EQ(h->CountAtOrBelow(9), 0u);
  EXPECT_EQ(h->CountAtOrBelow(10), 1u);
  EXPECT_EQ(h->CountAtOrBelow(19), 1u);
  EXPECT_EQ(h->CountAtOrBelow(20), 3u);
  EXPECT_EQ(h->CountAtOrBelow(99), 3u);
  // 1000 lies in the bucket [992, 1023]: a bucket counts only once all of it
  // lies at or below the bound.
  const int b1000 = Histogram::BucketOf(1000);
  EXPECT_EQ(BucketLowerEdge(b1000), 992u);
  EXPECT_EQ(Histogram::BucketUpperEdge(b1000), 1023u);
  EXPECT_EQ(h->CountAtOrBelow(1000), 4u);
  EXPECT_EQ(h->CountAtOrBelow(1022), 4u);
  EXPECT_EQ(h->CountAtOrBelow(1023), 5u);
  EXPECT_EQ(h->CountAtOrBelow(UINT64_MAX), 5u);
}

TEST(Histogram, CountAtOrBelowIsMonotonicAndReachesTheCount) {
  auto h = NewHistogram();
  for (uint64_t v = 0; v < 5000; v += 7) h->RecordMicros(v * v);
  uint64_t previous = 0;
  for (uint64_t bound = 0; bound < 30000000; bound = bound * 5 / 4 + 1) {
    uint64_t n = h->CountAtOrBelow(bound);
    EXPECT_GE(n, previous) << "bound " << bound;
    previous = n;
  }
  EXPECT_EQ(h->CountAtOrBelow(UINT64_MAX), h->count());
}

TEST(Histogram, MergeAddsCountsSumsAndKeepsTheMax) {
  auto a = NewHistogram(), b = NewHistogram(), all = NewHistogram();
  for (uint64_t v = 1; v <= 5000; ++v) {
    (v % 3 ? a : b)->RecordMicros(v * 11);
    all->RecordMicros(v * 11);
  }
  b->RecordMicros(777777);
  all->RecordMicros(777777);
  a->Merge(*b);
  EXPECT_EQ(a->count(), all->count());
  EXPECT_EQ(a->sum_micros(), all->sum_micros());
  EXPECT_EQ(a->max_micros(), 777777u);
  for (double q : {0.0, 0.25, 0.5, 0.9, 0.99, 0.9999, 1.0}) {
    EXPECT_EQ(a->QuantileMicros(q), all->QuantileMicros(q)) << "q=" << q;
  }
  for (uint64_t bound : {0, 100, 1000, 10000, 55000, 1000000}) {
    EXPECT_EQ(a->CountAtOrBelow(bound), all->CountAtOrBelow(bound)) << "bound " << bound;
  }
  // Merging an empty histogram changes nothing; the source is left as it was.
  auto empty = NewHistogram();
  a->Merge(*empty);
  EXPECT_EQ(a->count(), all->count());
  EXPECT_EQ(b->max_micros(), 777777u);
}

TEST(Histogram, MergeDoesNotLowerTheMax) {
  auto a = NewHistogram(), b = NewHistogram();
  a->RecordMicros(5000);
  b->RecordMicros(10);
  a->Merge(*b);
  EXPECT_EQ(a->max_micros(), 5000u);
}

TEST(Histogram, MaxSumAndNegativeDurations) {
  auto h = NewHistogram();
  h->Record(std::chrono::microseconds(-5));  // clock skew: counted as 0
  h->RecordMicros(300);
  h->RecordMicros(70);
  EXPECT_EQ(h->count(), 3u);
  EXPECT_EQ(h->sum_micros(), 370u);
  EXPECT_EQ(h->max_micros(), 300u);
  EXPECT_EQ(h->CountAtOrBelow(0), 1u);
  h->Reset();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->sum_micros(), 0u);
  EXPECT_EQ(h->max_micros(), 0u);
  EXPECT_EQ(h->QuantileMicros(0.5), 0);
}

}  // namespace
}  // namespace harpc::metrics
