// Raises the alarm for the sentinel group's decisions and keeps what happened
// for the dashboard: every event is a structured log line, a counter in
// /metrics and an entry in the recent-events list; decisions (odown, up)
// also run --notify CMD (the event as JSON on its stdin) and POST to
// --webhook URL.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include "harpc/security.h"

namespace harpc::sentinel {

struct Event {
  std::string event;    // "odown", "up", "sdown", "sdown_cleared", "registered", "deregistered", "expired"
  std::string service;
  std::string address;
  int64_t epoch = 0;
  int64_t time_ms = 0;  // wall clock
  std::string sentinel; // who decided or saw it

  boost::json::object ToJson() const;
};

class Notifier {
 public:
  // `webhook_tls`: how to reach https webhooks (the sentinel's TLS options;
  // a webhook is another trust domain, so no harpc token is sent to it).
  Notifier(std::string notify_command, std::string webhook_url, TlsOptions webhook_tls)
      : command_(std::move(notify_command)), webhook_(std::move(webhook_url)), webhook_tls_(std::move(webhook_tls)) {}
  // The loop that posts webhooks; events before it is set are not posted.
  void SetExecutor(boost::asio::any_io_executor executor) { executor_ = std::move(executor); }

  // Logs and records the event; `alert` also runs the command and the webhook.
  void Publish(Event event, bool alert);

  boost::json::array Recent() const;
  std::string MetricsText() const;

 private:
  void RunCommand(const std::string& payload);
  void PostWebhook(std::string payload);

  boost::asio::any_io_executor executor_;
  std::string command_;
  std::string webhook_;
  TlsOptions webhook_tls_;
  std::deque<Event> recent_;  // newest last, at most 200
  std::map<std::string, uint64_t> counts_;  // by event
  uint64_t alerts_ = 0;
};

}  // namespace harpc::sentinel
