#include "sentinel/notifier.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "metrics/prometheus.h"
#include "util/address.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
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
asio::awaitable<void> Post(asio::any_io_executor ex, std::string url, std::string payload) {
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
  beast::tcp_stream stream(ex);
  stream.expires_after(std::chrono::seconds(5));
  auto [cec] = co_await stream.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    spdlog::warn("webhook {}: {}", url, cec.message());
    co_return;
  }
  http::request<http::string_body> req{http::verb::post, parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path()), 11};
  req.set(http::field::host, hp.ToString());
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(payload);
  req.prepare_payload();
  auto [wec, w] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) co_return;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto [rec, r] = co_await http::async_read(stream, buffer, res, asio::as_tuple(asio::use_awaitable));
  if (rec || res.result_int() >= 300) spdlog::warn("webhook {}: {}", url, rec ? rec.message() : std::to_string(res.result_int()));
}
}  // namespace

void Notifier::PostWebhook(std::string payload) {
  if (!executor_) return;
  asio::co_spawn(executor_, Post(executor_, webhook_, std::move(payload)), asio::detached);
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
