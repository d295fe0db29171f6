// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the sentinel knows of replicated groups (docs/sentinel.md,
// "Replicated groups"). A member of a group registers with metadata
// {"group":{"members":[...]}}; the monitor then reads its GET /status after
// each good /health probe and keeps the "group" object it shows (MemberView).
// From the views of a service's members, GroupSummary tells the group's
// leader, term, lag and whether a majority is up; GroupAlerts turns changes
// of those into events, once per change.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/value.hpp>

#include "harpc/security.h"
#include "http/client.h"

namespace harpc::sentinel {

struct Instance;
class Notifier;

// One member's "group" object of GET /status, its documented fields only
// (DESIGN: role, leader, term, commit_index, applied_index, members).
struct MemberView {
  static constexpr size_t kMaxMembers = 9;  // the largest group ReplicatedGroup accepts

  std::string role;                   // "leader", "follower", "candidate" or "unavailable"
  std::optional<std::string> leader;  // the leader it knows, if any
  uint64_t term = 0, commit_index = 0, applied_index = 0;
  std::vector<std::string> members;

  // The view in `status_group`, or nullopt when it is not one (a wrong type,
  // an unknown role, an address over 255 bytes, more than kMaxMembers members).
  static std::optional<MemberView> Parse(const boost::json::value& status_group);
  boost::json::object ToJson() const;
  // Role, leader or term differ: worth telling watchers (the indexes move all the time).
  bool SameRoleAs(const MemberView& other) const {
    return role == other.role && leader == other.leader && term == other.term;
  }
};

// Reads GET /status on `connection` (opened by a probe, reused) and returns
// its "group" object; nullopt when the server has none, or did not answer
// with one within `timeout` (a token asked for, a body over 64 KiB, ...).
boost::asio::awaitable<std::optional<MemberView>> ReadMemberView(std::unique_ptr<http1::ClientConnection>& connection,
                                                                 const boost::asio::ip::tcp::endpoint& endpoint,
                                                                 std::chrono::milliseconds timeout,
                                                                 const ClientSecurity& security);

// Whether a registration's metadata says its instance is a group member.
bool IsGroupMember(const boost::json::object& metadata);

// A group as this sentinel sees it, from the instances of one service.
struct GroupSummary {
  std::optional<std::string> leader;  // named by the members in the highest term seen
  uint64_t term = 0;                  // the highest term an up member reports
  std::vector<std::string> members;   // the group's members (as they report them, else as registered)
  size_t up = 0;                      // members registered here and up
  bool views = false;                 // some up member's state could be read
  // The leader's commit index minus each up member's applied index (members
  // whose state was read, while the leader's is known).
  std::map<std::string, uint64_t> lag;

  size_t majority() const { return members.size() / 2 + 1; }
  boost::json::object ToJson(bool quorum) const;
};

// The summary of the group among `instances` (one service's, by address);
// nullopt when none of them is a group member.
std::optional<GroupSummary> Summarize(const std::map<std::string, Instance>& instances);

// Turns what the group summaries show into alerts, once per change:
// "leader-change" when the leader of a group changes; "group-no-quorum" when,
// for `down_after`, fewer than a majority of its members are up or no member
// names a leader; "group-quorum-restored" as soon as both hold again.
class GroupAlerts {
 public:
  using Clock = std::chrono::steady_clock;

  GroupAlerts(Notifier& notifier, std::string self, std::chrono::milliseconds down_after)
      : notifier_(notifier), self_(std::move(self)), down_after_(down_after) {}

  // Looks at every group of `services` (the registry's): on the loop, often.
  void Check(const std::map<std::string, std::map<std::string, Instance>>& services, int64_t epoch,
             Clock::time_point now);
  // Whether the group of `service` has a quorum, as last judged (true when unknown).
  bool quorum(const std::string& service) const;

 private:
  struct Seen {
    std::optional<std::string> leader;
    uint64_t term = 0;
    bool quorum = true;                              // as last told
    std::optional<Clock::time_point> lacking_since;  // since when a majority is down or no leader is named
  };
  void Tell(const std::string& event, const std::string& service, const std::string& address, int64_t epoch,
            boost::json::object details);

  Notifier& notifier_;
  std::string self_;
  std::chrono::milliseconds down_after_;
  std::map<std::string, Seen> seen_;  // by service
};

}  // namespace harpc::sentinel
