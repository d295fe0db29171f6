// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/notifier.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "http/client.h"
#include "http/request.h"
#include "metrics/prometheus.h"
#include "sentinel/registry.h"
#include "util/address.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

json::object Event::ToJson() const {
  json::object o{{"event", event}, {"service", service}, {"address", address},
                 {"epoch", epoch}, {"time", time_ms},    {"sentinel", sentinel}};
  if (count > 0) o["count"] = count;
  for (const auto& [key, value] : details) o[key] = value;
  return o;
}

Notifier::Notifier(NotifierOptions options)
    : options_(std::move(options)),
      budget_(options_.max_alerts_per_minute),
      unproven_budget_(std::max(options_.max_alerts_per_minute / 4, 1)) {}

void Notifier::Remember(Event e) {
  ++counts_[e.event];
  recent_bytes_ += json::serialize(e.ToJson()).size();
  recent_.push_back(std::move(e));
  while (recent_.size() > kRecentEvents || recent_bytes_ > kRecentEventBytes) {
    recent_bytes_ -= json::serialize(recent_.front().ToJson()).size();
    recent_.pop_front();
  }
}

void Notifier::Publish(Event e, bool alert, bool proven) {
  const std::string payload = json::serialize(e.ToJson());
  spdlog::info("sentinel event {}", payload);
  const auto now = Clock::now();
  const bool told = alert && (proven ? budget_ : unproven_budget_).Take(now);
  if (alert && !told) Drop(e, proven, now);
  Remember(std::move(e));
  if (!told) return;
  TellSummary();  // the alerts not told so far come first
  Tell(payload);
}

void Notifier::Drop(const Event& e, bool proven, Clock::time_point now) {
  ++alerts_dropped_;
  ++unsummed_.count;
  unsummed_.proven = unsummed_.proven || proven;
  unsummed_.epoch = e.epoch;
  unsummed_.sentinel = e.sentinel;
  if (unsummed_.alerts.size() < kSummaryListed) {
    unsummed_.alerts.push_back(json::object{{"event", e.event}, {"service", e.service}, {"address", e.address}});
  }
  if (now - drop_logged_ >= std::chrono::seconds(10)) {
    drop_logged_ = now;
    spdlog::warn(
        "notify: {} alert(s) over the budget of {} per minute not told so far ({} in all); one summary "
        "follows when the budget allows",
        unsummed_.count, options_.max_alerts_per_minute, alerts_dropped_);
  }
  if (!summary_pending_ && executor_) {
    summary_pending_ = true;
    asio::co_spawn(executor_, TellSummaryWhenAllowed(), asio::detached);
  }
}

void Notifier::TellSummary() {
  if (unsummed_.count == 0) return;
  Event summary{.event = "alerts_dropped",
                .epoch = unsummed_.epoch,
                .time_ms = WallClockMs(),
                .sentinel = unsummed_.sentinel,
                .count = unsummed_.count,
                .details = {{"alerts", std::move(unsummed_.alerts)}}};
  unsummed_ = {};
  const std::string text = json::serialize(summary.ToJson());
  spdlog::warn("sentinel event {}", text);
  Remember(std::move(summary));
  Tell(text);
}

asio::awaitable<void> Notifier::TellSummaryWhenAllowed() {
  // Each turn waits for a token of the budget the dropped alerts came from;
  // an alert told meanwhile may have taken it, and told the summary first.
  while (unsummed_.count > 0) {
    AlertBudget& budget = unsummed_.proven ? budget_ : unproven_budget_;
    asio::steady_timer timer(executor_, budget.NextToken(Clock::now()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (unsummed_.count > 0 && (unsummed_.proven ? budget_ : unproven_budget_).Take(Clock::now())) TellSummary();
  }
  summary_pending_ = false;
}

void Notifier::Tell(const std::string& payload) {
  ++alerts_;
  if (!executor_) return;
  if (!options_.command.empty()) StartCommand(payload);
  if (!options_.webhook.empty()) PostWebhook(payload);
}

void Notifier::StartCommand(std::string payload) {
  if (running_commands_ < kMaxRunningCommands) {
    ++running_commands_;
    asio::co_spawn(executor_, CommandSlot(std::move(payload)), asio::detached);
  } else if (waiting_commands_.size() < kMaxWaitingCommands) {
    waiting_commands_.push_back(std::move(payload));
  } else {
    ++alerts_dropped_;
    spdlog::warn("notify: {} commands running and {} waiting; not running it for {}", running_commands_,
                 waiting_commands_.size(), payload);
  }
}

asio::awaitable<void> Notifier::CommandSlot(std::string payload) {
  for (;;) {
    co_await RunCommand(std::move(payload));
    if (waiting_commands_.empty()) break;
    payload = std::move(waiting_commands_.front());
    waiting_commands_.pop_front();
  }
  --running_commands_;
}

asio::awaitable<void> Notifier::RunCommand(std::string payload) {
  // /bin/sh -c CMD in a process group of its own, the event on a pipe that
  // holds it whole (a command that never reads its stdin blocks nobody).
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    spdlog::error("notify: pipe failed: {}", std::system_category().message(errno));
    co_return;
  }
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);  // our end only: the command reads its stdin as usual
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, fds[0], STDIN_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);  // no sockets of the sentinel
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);  // e.g. SIGPIPE, ignored here, is not there
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const std::string& command = options_.command;
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, "/bin/sh", &files, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  ::close(fds[0]);
  if (spawned != 0) {
    ::close(fds[1]);
    spdlog::error("notify: cannot run /bin/sh: {}", std::system_category().message(spawned));
    co_return;
  }
  const std::string line = payload + "\n";
  const ssize_t written = ::write(fds[1], line.data(), line.size());
  ::close(fds[1]);
  if (written != static_cast<ssize_t>(line.size())) spdlog::warn("notify: the event did not fit the command's stdin");

  // Reaped by polling (WNOHANG) until it ends or its time is up.
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + options_.command_timeout;
  asio::steady_timer timer(executor_);
  int status = 0;
  bool killed = false;
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) break;
    if (!killed && std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);  // the shell and whatever it started
      killed = true;
      spdlog::warn("notify: command still running after {} ms: killed", options_.command_timeout.count());
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    spdlog::info("notify: command exited with status 0 after {} ms", took.count());
  } else if (WIFEXITED(status)) {
    spdlog::warn("notify: command exited with status {} after {} ms", WEXITSTATUS(status), took.count());
  } else if (WIFSIGNALED(status)) {
    spdlog::warn("notify: command ended by signal {} after {} ms", WTERMSIG(status), took.count());
  }
}

namespace {
// Where an https webhook's certificate is verified when the sentinel has no
// --tls-ca of its own: the system's trusted CAs (Debian's ca-certificates).
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

asio::awaitable<void> Post(asio::any_io_executor ex, std::string url, std::string payload, TlsOptions tls) {
  auto parsed = boost::urls::parse_uri(url);
  const bool https = parsed && parsed->scheme() == "https";
  if (!parsed || (!https && parsed->scheme() != "http")) {
    spdlog::error("webhook: unsupported URL {}", url);
    co_return;
  }
  const uint16_t default_port = https ? 443 : 80;
  HostPort hp{std::string(parsed->host()),
              static_cast<uint16_t>(parsed->port_number() ? parsed->port_number() : default_port)};
  if (https && tls.ca_file.empty()) tls.ca_file = kSystemCaBundle;
  if (!https) tls = {};
  asio::ip::tcp::endpoint ep;
  if (Status s = ResolveEndpoint(hp, &ep); !s.ok()) {
    spdlog::error("webhook: {}", s.ToString());
    co_return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  http1::ClientConnection connection(ex);
  if (auto ec = co_await connection.stream.Connect(ep, deadline, tls)) {
    spdlog::warn("webhook {}: {}", url, ec.message());
    co_return;
  }
  std::string_view path = parsed->encoded_path();
  std::string request;
  http1::AppendRequestLine(request, "POST", path.empty() ? "/" : path, hp.ToString());
  http1::AppendHeader(request, "Connection", "close");
  http1::AppendBody(request, "application/json", payload);
  http1::ClientResponse response = co_await http1::Exchange(connection, request, deadline, {.body_bytes = 64 * 1024});
  if (response.error || response.status >= 300) {
    spdlog::warn("webhook {}: {}", url, response.error ? response.error.message() : std::to_string(response.status));
  }
}
}  // namespace

void Notifier::PostWebhook(std::string payload) {
  asio::co_spawn(executor_, Post(executor_, options_.webhook, std::move(payload), options_.webhook_tls),
                 asio::detached);
}

json::array Notifier::Recent(size_t limit) const {
  json::array out;
  for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < limit; ++it) out.push_back(it->ToJson());
  return out;
}

std::string Notifier::MetricsText() const {
  metrics::PrometheusWriter w;
  w.Family("harpc_sentinel_events_total", "counter", "Events seen or decided by this sentinel.");
  for (const auto& [event, n] : counts_) w.Sample("harpc_sentinel_events_total", "event=\"" + event + "\"", n);
  w.Family("harpc_sentinel_alerts_total", "counter", "Alerts raised (--notify / --webhook) as the group's leader.");
  w.Sample("harpc_sentinel_alerts_total", "", alerts_);
  w.Family("harpc_sentinel_alerts_dropped_total", "counter",
           "Alerts not told one by one: over --max-alerts-per-minute (named in an alerts_dropped summary), "
           "or too many --notify commands waiting.");
  w.Sample("harpc_sentinel_alerts_dropped_total", "", alerts_dropped_);
  return w.Take();
}

}  // namespace harpc::sentinel
