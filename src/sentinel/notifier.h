// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Raises the alarm for the sentinel group's decisions and keeps what happened
// for the dashboard: every event is a structured log line, a counter in
// /metrics and an entry in the recent-events list; decisions (odown, up),
// lease-expired and group events also run --notify CMD (the event as JSON on its stdin) and
// POST to --webhook URL.
//
// Bounded work: the recent events are at most kRecentEvents and
// kRecentEventBytes; alerts come from a budget (AlertBudget), with a budget of
// their own for instances this sentinel never saw healthy, so that a flood of
// bogus registrations cannot spend the alerts of real failures. Alerts over
// budget (the rest of a mass failure, say) are not told one by one but never
// silently: they are counted, logged, and summed up in one "alerts_dropped"
// alert that lists them (kSummaryListed at most), told with the next alert
// the budget allows or, at the latest, as soon as the budget has room for it.
// The command runs in its own process group without blocking the loop, and
// is killed when it outlives its timeout; kMaxRunningCommands run at once,
// the others wait their turn.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "harpc/security.h"
#include "sentinel/alert_budget.h"

namespace harpc::sentinel {

struct Event {
  std::string event;  // "odown", "up", "sdown", "sdown_cleared", "registered", "deregistered", "expired",
                      // "lease-expired" (monitor.h), "alerts_dropped" (details: "alerts", those
                      // not told: [{event, service, address}]), and of replicated groups
                      // (group_view.h): "leader-change",
                      // "group-no-quorum", "group-quorum-restored"
  std::string service;
  std::string address;
  int64_t epoch = 0;
  int64_t time_ms = 0;               // wall clock
  std::string sentinel;              // who decided or saw it
  uint64_t count = 0;                // "alerts_dropped": how many (not shown otherwise)
  boost::json::object details = {};  // further members of the event's JSON (group events: leader, term, ...)

  boost::json::object ToJson() const;
};

struct NotifierOptions {
  std::string command;                               // --notify: run with /bin/sh -c, the event on stdin; "" none
  std::string webhook;                               // --webhook: http://host:port/path; "" none
  std::chrono::milliseconds command_timeout{10000};  // --notify-timeout-ms: then SIGKILL (its process group)
  int max_alerts_per_minute = 30;                    // --max-alerts-per-minute: alerts told at most (burst included)
  // How to reach an https webhook: the sentinel's TLS settings. A webhook is
  // another trust domain: no harpc token is ever sent to it.
  TlsOptions webhook_tls;
};

class Notifier {
 public:
  // Recent events kept for the dashboard and Sentinel.events.
  static constexpr size_t kRecentEvents = 200;
  static constexpr size_t kRecentEventBytes = 256 * 1024;
  // --notify commands running at once; more wait, kMaxWaitingCommands at
  // most (beyond, they are dropped: counted, logged).
  static constexpr int kMaxRunningCommands = 16;
  static constexpr size_t kMaxWaitingCommands = 1000;
  // The alerts an "alerts_dropped" summary lists at most ("count" is all of them).
  static constexpr size_t kSummaryListed = 100;

  explicit Notifier(NotifierOptions options);
  // The loop that runs commands and posts webhooks; events before it is set are not told.
  void SetExecutor(boost::asio::any_io_executor executor) { executor_ = std::move(executor); }

  // Logs and records the event; `alert` also runs the command and the
  // webhook, within the alert budget: `proven` (this sentinel saw the instance
  // healthy once) draws from the main budget, the others from their own.
  void Publish(Event event, bool alert, bool proven = true);

  // The `limit` most recent events, newest first.
  boost::json::array Recent(size_t limit = kRecentEvents) const;
  std::string MetricsText() const;

 private:
  using Clock = std::chrono::steady_clock;
  // Alerts over budget not summed up yet.
  struct Unsummed {
    uint64_t count = 0;
    bool proven = false;        // one came from the main budget: the summary does too
    boost::json::array alerts;  // {event, service, address}, the first kSummaryListed
    int64_t epoch = 0;          // of the last one
    std::string sentinel;
  };
  void Drop(const Event& event, bool proven, Clock::time_point now);
  // Tells the "alerts_dropped" summary, if there is one to tell.
  void TellSummary();
  // Waits for room in the budget and tells the summary, unless an alert told it first.
  boost::asio::awaitable<void> TellSummaryWhenAllowed();
  void Tell(const std::string& payload);
  void StartCommand(std::string payload);
  // One of the kMaxRunningCommands: runs `payload`'s command, then those waiting.
  boost::asio::awaitable<void> CommandSlot(std::string payload);
  boost::asio::awaitable<void> RunCommand(std::string payload);
  void PostWebhook(std::string payload);
  void Remember(Event event);

  NotifierOptions options_;
  boost::asio::any_io_executor executor_;
  std::deque<Event> recent_;  // newest last
  size_t recent_bytes_ = 0;
  std::map<std::string, uint64_t> counts_;  // by event
  uint64_t alerts_ = 0;
  uint64_t alerts_dropped_ = 0;  // in all (metrics)
  Unsummed unsummed_;
  bool summary_pending_ = false;  // TellSummaryWhenAllowed is waiting
  AlertBudget budget_;
  AlertBudget unproven_budget_;  // a quarter of the budget, for instances never seen healthy
  Clock::time_point drop_logged_{};
  int running_commands_ = 0;  // command slots busy
  std::deque<std::string> waiting_commands_;
};

}  // namespace harpc::sentinel
