// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A closed-loop transfer load: `concurrency` callers, each starting its next
// transfer as soon as the previous one has an outcome. Used by
// `harpc transfer --duration/--count`, the demo and the benchmark.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "harpc/transaction.h"
#include "metrics/histogram.h"

namespace harpc::cli {

struct TransferLoadSpec {
  // Accounts are FROM_PREFIX<i> and TO_PREFIX<j>, i and j drawn uniformly
  // from [0, accounts); with accounts = 0 the prefixes are the account names.
  std::string from_account, to_account;
  int accounts = 0;
  // Half of the callers transfer the other way (to -> from). Default false.
  bool both_ways = false;
  int64_t amount = 1;
  int concurrency = 1;
  std::chrono::milliseconds duration{0};  // used when count == 0
  uint64_t count = 0;
  TransactionOptions transaction;
};

struct TransferReport {
  uint64_t transfers = 0, committed = 0, aborted = 0, unknown = 0;
  double seconds = 0;
  // The longest time without a commit, from the start to the end of the run.
  std::chrono::milliseconds longest_gap{0};
  std::unique_ptr<metrics::Histogram> latency = std::make_unique<metrics::Histogram>();
  std::map<std::string, uint64_t> abort_reasons;  // by the reason's first words
  // Transactions whose outcome the caller did not learn (the first 10,000),
  // to ask the coordinator about afterwards.
  std::vector<std::string> unknown_txids;

  double tps() const { return seconds > 0 ? static_cast<double>(committed) / seconds : 0; }
  // {"transfers","committed","aborted","errors","tps","latency_ms":{"p50","p99","max"},"longest_gap_ms",
  //  "abort_reasons":{...}}
  boost::json::object ToJson() const;
};

// The options of a channel to a coordinator or bank `target`: when the
// target lists several members (a replicated group), a backup attempt after
// 300 ms and up to 6 retries. A leader frozen (SIGSTOP) with calls in
// flight answers none of them; the backup reaches a follower, which names
// the new leader. A leader killed mid-call is named by the followers until
// the election ends. Every call of a transfer is safe to repeat
// (transactions make them so).
ChannelOptions TransferChannelOptions(ChannelOptions options, const std::string& target);

TransferReport RunTransferLoad(Channel& coordinator, Channel& from, Channel& to, const TransferLoadSpec& spec,
                               std::function<void(const TransferReport&)> on_tick = nullptr,
                               std::chrono::milliseconds tick = std::chrono::seconds(1));

}  // namespace harpc::cli
