// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/instance_history.h"

#include <boost/json.hpp>

namespace harpc::sentinel {

namespace json = boost::json;

namespace {
bool IsDown(std::string_view state) { return state == "sdown" || state == "odown"; }
bool IsDeparture(std::string_view state) { return state == "expired" || state == "deregistered"; }
}  // namespace

void InstanceHistory::Record(const std::string& service, const std::string& address, const std::string& name,
                             std::string_view state, int64_t time_ms) {
  Key key{service, address};
  Entry& e = entries_[key];
  e.name = name;
  if (!e.timeline.empty() && e.timeline.back().state == state) return;
  if (e.departed_ms != 0 && !IsDeparture(state)) {  // registered again
    departed_.erase({e.departed_ms, key});
    e.departed_ms = 0;
    e.expiry_told = false;
  }
  if (IsDown(state) || state == "expired") {
    if (e.down_since_ms == 0) e.down_since_ms = time_ms;  // a lease that expired stopped being renewed then
  } else if (state != "deregistered") {
    e.down_since_ms = 0;
  }
  e.timeline.push_back({std::string(state), time_ms});
  while (e.timeline.size() > kTimelineEntries) e.timeline.pop_front();
  if (IsDeparture(state) && e.departed_ms == 0) {
    e.departed_ms = time_ms;
    departed_.insert({time_ms, std::move(key)});
    Prune(time_ms);
  }
}

void InstanceHistory::MarkExpiryTold(const std::string& service, const std::string& address) {
  if (auto it = entries_.find({service, address}); it != entries_.end()) it->second.expiry_told = true;
}

bool InstanceHistory::ExpiryTold(const std::string& service, const std::string& address) const {
  auto it = entries_.find({service, address});
  return it != entries_.end() && it->second.expiry_told;
}

void InstanceHistory::Prune(int64_t now_ms) {
  while (!departed_.empty() &&
         (departed_.size() > kMaxDeparted || departed_.begin()->first + retention_.count() <= now_ms)) {
    entries_.erase(departed_.begin()->second);
    departed_.erase(departed_.begin());
  }
}

json::array InstanceHistory::ToJson() const {
  json::array out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_) {
    if (e.timeline.empty()) continue;
    json::array timeline;
    for (const Change& c : e.timeline) timeline.push_back(json::object{{"state", c.state}, {"time", c.time_ms}});
    out.push_back(json::object{{"service", key.first},
                               {"address", key.second},
                               {"name", e.name},
                               {"state", e.timeline.back().state},
                               {"since_ms", e.timeline.back().time_ms},
                               {"down_since_ms", e.down_since_ms},
                               {"departed_ms", e.departed_ms},
                               {"timeline", std::move(timeline)}});
  }
  return out;
}

}  // namespace harpc::sentinel
