#include "sentinel/notifier.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "http/client.h"
#include "http/request.h"
#include "metrics/prometheus.h"
#include "util/address.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

json::object Event::ToJson() const {
  return {{"event", event}, {"service", service}, {"address", address}, {"epoch", epoch},
          {"time", time_ms}, {"sentinel", sentinel}};
}

void Notifier::Publish(Event e, bool alert) {
  const std::string payload = json::serialize(e.ToJson());
  spdlog::info("sentinel event {}", payload);
  ++counts_[e.event];
  recent_.push_back(std::move(e));
  if (recent_.size() > 200) recent_.pop_front();
  if (!alert) return;
  ++alerts_;
  if (!command_.empty()) RunCommand(payload);
  if (!webhook_.empty()) PostWebhook(payload);
}

void Notifier::RunCommand(const std::string& payload) {
  // /bin/sh -c CMD with the event on stdin; a grandchild does the work so
  // that nobody has to wait for it (no zombies, no blocking the loop).
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    spdlog::error("notify: pipe failed");
    return;
  }
  pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      ::dup2(fds[0], STDIN_FILENO);
      ::execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::_exit(0);
  }
  ::close(fds[0]);
  if (child > 0) ::waitpid(child, nullptr, 0);
  // Small payloads fit in the pipe buffer: this write does not block.
  const std::string line = payload + "\n";
  [[maybe_unused]] ssize_t n = ::write(fds[1], line.data(), line.size());
  ::close(fds[1]);
}

namespace {
asio::awaitable<void> Post(asio::any_io_executor ex, std::string url, std::string payload, TlsOptions tls) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http") {
    spdlog::error("webhook: unsupported URL {}", url);
    co_return;
  }
  HostPort hp{std::string(parsed->host()), static_cast<uint16_t>(parsed->port_number() ? parsed->port_number() : 80)};
  asio::ip::tcp::endpoint ep;
  if (Status s = ResolveEndpoint(hp, &ep); !s.ok()) {
    spdlog::error("webhook: {}", s.ToString());
    co_return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // TODO(issue 10, TLS): https URLs connect over TLS, verified with tls.ca_file.
  http1::ClientConnection connection(ex);
  if (auto ec = co_await connection.stream.Connect(ep, deadline)) {
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
  if (!executor_) return;
  asio::co_spawn(executor_, Post(executor_, webhook_, std::move(payload), webhook_tls_), asio::detached);
}

json::array Notifier::Recent() const {
  json::array out;
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) out.push_back(it->ToJson());
  return out;
}

std::string Notifier::MetricsText() const {
  metrics::PrometheusWriter w;
  w.Family("harpc_sentinel_events_total", "counter", "Events seen or decided by this sentinel.");
  for (const auto& [event, n] : counts_) w.Sample("harpc_sentinel_events_total", "event=\"" + event + "\"", n);
  w.Family("harpc_sentinel_alerts_total", "counter", "Alerts raised (--notify / --webhook) as the group's leader.");
  w.Sample("harpc_sentinel_alerts_total", "", alerts_);
  return w.Take();
}

}  // namespace harpc::sentinel
