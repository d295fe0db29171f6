// Raises the alarm for the sentinel group's decisions and keeps what happened
// for the dashboard: every event is a structured log line, a counter in
// /metrics and an entry in the recent-events list; decisions (odown, up),
// lease-expired and group events also run --notify CMD (the event as JSON on its stdin) and
// POST to --webhook URL.
//
// Bounded work: the recent events are at most kRecentEvents and
// kRecentEventBytes; alerts come from a budget (AlertBudget), with a budget of
// their own for instances this sentinel never saw healthy, so that a flood of
// bogus registrations cannot spend the alerts of real failures; alerts over
// budget are dropped, counted, logged, and summed up in one "alerts_dropped"
// alert when the budget allows again. The command runs in its own process
// group without blocking the loop, and is killed when it outlives its timeout.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "sentinel/alert_budget.h"
#include "harpc/security.h"

namespace harpc::sentinel {

struct Event {
  std::string event;    // "odown", "up", "sdown", "sdown_cleared", "registered", "deregistered", "expired",
                        // "lease-expired" (monitor.h), "alerts_dropped", and of replicated groups
                        // (group_view.h): "leader-change",
                        // "group-no-quorum", "group-quorum-restored"
  std::string service;
  std::string address;
  int64_t epoch = 0;
  int64_t time_ms = 0;  // wall clock
  std::string sentinel; // who decided or saw it
  uint64_t count = 0;   // "alerts_dropped": how many (not shown otherwise)
  boost::json::object details = {};  // further members of the event's JSON (group events: leader, term, ...)

  boost::json::object ToJson() const;
};

struct NotifierOptions {
  std::string command;                         // --notify: run with /bin/sh -c, the event on stdin; "" none
  std::string webhook;                         // --webhook: http://host:port/path; "" none
  std::chrono::milliseconds command_timeout{10000};  // --notify-timeout-ms: then SIGKILL (its process group)
  int max_alerts_per_minute = 30;              // --max-alerts-per-minute: alerts told at most (burst included)
  // How to reach an https webhook: the sentinel's TLS settings. A webhook is
  // another trust domain: no harpc token is ever sent to it.
  TlsOptions webhook_tls;
};

class Notifier {
 public:
  // Recent events kept for the dashboard and Sentinel.events.
  static constexpr size_t kRecentEvents = 200;
  static constexpr size_t kRecentEventBytes = 256 * 1024;
  // --notify commands running at once; more are dropped (counted, logged).
  static constexpr int kMaxRunningCommands = 16;

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
  void Tell(const std::string& payload);
  boost::asio::awaitable<void> RunCommand(std::string payload);
  void PostWebhook(std::string payload);
  void Remember(Event event);

  NotifierOptions options_;
  boost::asio::any_io_executor executor_;
  std::deque<Event> recent_;  // newest last
  size_t recent_bytes_ = 0;
  std::map<std::string, uint64_t> counts_;  // by event
  uint64_t alerts_ = 0;
  uint64_t alerts_dropped_ = 0;       // in all (metrics)
  uint64_t dropped_unsummed_ = 0;     // since the last "alerts_dropped" summary
  AlertBudget budget_;
  AlertBudget unproven_budget_;       // a quarter of the budget, for instances never seen healthy
  std::chrono::steady_clock::time_point drop_logged_{};
  int running_commands_ = 0;
};

}  // namespace harpc::sentinel
