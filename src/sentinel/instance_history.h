// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the sentinel remembers of each instance beyond its present state, for
// the dashboard (Sentinel.history): when it went down, and its recent state
// changes (a timeline). An instance that leaves the registry — its lease
// expired, or it deregistered — is kept for the retention, so that whoever
// looks after a crash still sees the dead instance, when it went down and
// for how long, instead of a healthy-looking table.
//
// Bounded: at most kTimelineEntries changes per instance (the oldest go
// first), and at most kMaxDeparted departed instances, each for the
// retention (the longest gone go first). Registered instances are bounded
// by the registry's limits. Runs on the sentinel's loop, as the registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/value.hpp>

namespace harpc::sentinel {

class InstanceHistory {
 public:
  // State changes kept per instance; instances kept after they left the registry.
  static constexpr size_t kTimelineEntries = 16;
  static constexpr size_t kMaxDeparted = 1000;

  // `retention`: how long an instance is kept after it left the registry.
  explicit InstanceHistory(std::chrono::milliseconds retention) : retention_(retention) {}

  // The instance (named `name`) is in `state` from `time_ms` (wall clock)
  // on: "up", "sdown", "odown" or "draining" while registered; "expired" or
  // "deregistered" when it leaves the registry. A repeat of its last state
  // changes nothing; an instance that registers again after it left
  // continues its history.
  void Record(const std::string& service, const std::string& address, const std::string& name, std::string_view state,
              int64_t time_ms);

  // The instance's lease expired and that was alerted: it was ODOWN, or this
  // sentinel told its "lease-expired" (until it registers again).
  void MarkExpiryTold(const std::string& service, const std::string& address);
  bool ExpiryTold(const std::string& service, const std::string& address) const;

  // Forgets the instances that left the registry more than the retention
  // before `now_ms`, and the longest gone beyond kMaxDeparted.
  void Prune(int64_t now_ms);

  // [{service, address, name, state, since_ms, down_since_ms, departed_ms,
  //   timeline: [{state, time}...]}...], oldest change first; down_since_ms
  // and departed_ms are 0 when the instance is not down, or still registered.
  boost::json::array ToJson() const;

  size_t size() const { return entries_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;  // (service, address)
  struct Change {
    std::string state;
    int64_t time_ms = 0;
  };
  struct Entry {
    std::string name;             // as last registered
    std::deque<Change> timeline;  // newest last, at most kTimelineEntries
    int64_t down_since_ms = 0;    // start of the current down spell (SDOWN, ODOWN, or expired while up)
    int64_t departed_ms = 0;      // when it left the registry; 0 while registered
    bool expiry_told = false;
  };

  std::chrono::milliseconds retention_;
  std::map<Key, Entry> entries_;
  std::set<std::pair<int64_t, Key>> departed_;  // (departed_ms, key), the longest gone first
};

}  // namespace harpc::sentinel
