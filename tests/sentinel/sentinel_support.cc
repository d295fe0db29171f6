// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace harpc::sentineltest {

namespace {
int BoundSocket(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}
}  // namespace

int ReservePort() {
  int port = 0;
  int fd = BoundSocket(&port);
  if (fd >= 0) ::close(fd);
  return port;
}

RefusingPort::RefusingPort() { fd_ = BoundSocket(&port_); }
RefusingPort::~RefusingPort() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// One attempt; port 0 in the result when the child did not report its address.
SentinelProcess SpawnSentinel(const SentinelConfig& c, int port) {
  SentinelProcess s;
  s.config = c;
  std::vector<std::string> argv = {HARPC_BINARY, "sentinel", "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--data-dir", c.data_dir};
  if (c.down_after_ms > 0) argv.insert(argv.end(), {"--down-after-ms", std::to_string(c.down_after_ms)});
  if (c.probe_interval_ms > 0) argv.insert(argv.end(), {"--probe-interval-ms", std::to_string(c.probe_interval_ms)});
  if (c.lease_ttl_ms > 0) argv.insert(argv.end(), {"--lease-ttl-ms", std::to_string(c.lease_ttl_ms)});
  if (!c.peers.empty()) argv.insert(argv.end(), {"--peers", Join(c.peers)});
  if (c.quorum > 0) argv.insert(argv.end(), {"--quorum", std::to_string(c.quorum)});
  if (!c.notify.empty()) argv.insert(argv.end(), {"--notify", c.notify});
  if (!c.webhook.empty()) argv.insert(argv.end(), {"--webhook", c.webhook});
  argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
  if (!Subprocess::Spawn(argv, &s.process, s.log_path()).ok()) return s;
  std::string line;
  Status st = s.process.ReadLine(10s, &line);
  const std::string prefix = "listening on ";
  if (!st.ok() || line.rfind(prefix, 0) != 0) {
    s.process = Subprocess();  // kill and reap
    return s;
  }
  s.address = line.substr(prefix.size());
  s.port = std::stoi(s.address.substr(s.address.rfind(':') + 1));
  return s;
}
}  // namespace

SentinelProcess TryStartSentinel(const SentinelConfig& config, int port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    SentinelProcess s = SpawnSentinel(config, port);
    if (s.port != 0 || Clock::now() >= deadline) return s;
    // The port is still taken (TIME_WAIT, or a dying child): try again shortly.
    PollUntil([] { return false; }, 50ms);
  }
}

SentinelProcess StartSentinel(const SentinelConfig& config, int port, std::chrono::milliseconds timeout) {
  SentinelProcess s = TryStartSentinel(config, port, timeout);
  if (s.port == 0) {
    ADD_FAILURE() << "cannot start harpc sentinel on port " << port << "; log:\n" << Tail(s.log_path());
  }
  return s;
}

void RestartSentinel(SentinelProcess& s) {
  const int port = s.port;
  const SentinelConfig config = s.config;
  s.process.Signal(SIGKILL);
  s.process.Wait(5s);
  s = StartSentinel(config, port);
}

std::vector<SentinelProcess> StartGroup(int n, const SentinelConfig& base,
                                        std::vector<std::unique_ptr<TempDir>>& dirs) {
  dirs.clear();
  for (int i = 0; i < n; ++i) dirs.push_back(std::make_unique<TempDir>("harpc-sentinel-group"));
  for (int attempt = 0; attempt < 5; ++attempt) {
    // Ports are chosen first so that every member can name the others.
    std::vector<int> ports;
    ports.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) ports.push_back(ReservePort());
    std::vector<SentinelProcess> group;
    bool ok = true;
    for (int i = 0; i < n && ok; ++i) {
      SentinelConfig c = base;
      c.data_dir = dirs[i]->path();
      c.peers.clear();
      for (int j = 0; j < n; ++j) {
        if (j != i) c.peers.push_back("127.0.0.1:" + std::to_string(ports[j]));
      }
      group.push_back(TryStartSentinel(c, ports[i], 0ms));
      ok = group.back().port == ports[i];
    }
    if (ok) return group;
    // Someone took a reserved port meanwhile: start over on other ports.
  }
  ADD_FAILURE() << "cannot start a group of " << n << " sentinels";
  return {};
}

ServeProcess StartServeOn(int port, std::chrono::milliseconds timeout) {
  ServeProcess s;
  s.address = testing::StartDaemon({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--threads", "1"},
                                   &s.process, timeout);
  if (s.address.empty()) {
    ADD_FAILURE() << "cannot start harpc serve on port " << port;
    return ServeProcess{};
  }
  s.port = testing::PortOf(s.address);
  return s;
}

namespace {
// health_host.py on `ports`; no addresses when it could not listen on them all.
HealthHost SpawnHealthHost(const std::vector<int>& ports) {
  HealthHost host;
  std::string listed;
  for (int port : ports) listed += (listed.empty() ? "" : ",") + std::to_string(port);
  const std::vector<std::string> argv = {"/usr/bin/python3", std::string(HARPC_SENTINEL_TEST_DIR) + "/health_host.py",
                                         "--ports", listed};
  if (!Subprocess::Spawn(argv, &host.process).ok()) return host;
  std::string line;
  const std::string prefix = "listening on ";
  if (!host.process.ReadLine(testing::Scaled(10s), &line).ok() || line.rfind(prefix, 0) != 0) {
    host.process = Subprocess();  // kill and reap
    return host;
  }
  std::stringstream addresses(line.substr(prefix.size()));
  for (std::string address; std::getline(addresses, address, ',');) host.addresses.push_back(address);
  return host;
}
}  // namespace

HealthHost StartHealthHost(size_t count) {
  for (int attempt = 0; attempt < 5; ++attempt) {  // a port taken between FreePort and the bind: other ports
    std::vector<int> ports;
    for (size_t i = 0; i < count; ++i) ports.push_back(testing::FreePort());
    HealthHost host = SpawnHealthHost(ports);
    if (host.addresses.size() == count) return host;
  }
  ADD_FAILURE() << "cannot start health_host.py on " << count << " free ports";
  return HealthHost{};
}

HealthHost RestartHealthHost(const std::vector<std::string>& addresses) {
  std::vector<int> ports;
  ports.reserve(addresses.size());
  for (const std::string& a : addresses) ports.push_back(testing::PortOf(a));
  HealthHost host = SpawnHealthHost(ports);
  if (host.addresses.empty()) ADD_FAILURE() << "cannot start health_host.py again on its ports";
  return host;
}

RegistryClient::RegistryClient(const std::string& sentinel_address) : address_(sentinel_address) {
  ChannelOptions o;
  o.timeout = 3s;
  o.connect_timeout = 1s;
  o.retry.max_retries = 0;
  o.health.interval = 0ms;
  o.breaker.failure_ratio = 0;
  o.outlier.consecutive_failures = 0;
  o.outlier.failure_ratio = 0;
  o.idempotency_keys = false;
  channel_ = std::make_unique<Channel>(sentinel_address, o);
}

CallResult RegistryClient::Call(const std::string& method, const json::value& params,
                                std::chrono::milliseconds timeout) {
  CallOptions co;
  co.timeout = timeout;
  return channel_->Call(method, params, co);
}

Status RegistryClient::Register(const std::string& service, const std::string& address, int weight, int64_t ttl_ms,
                                std::string* lease, const std::string& name) {
  json::object p{{"service", service}, {"address", address}, {"weight", weight}, {"ttl_ms", ttl_ms}};
  if (!name.empty()) p["name"] = name;
  CallResult r = Call("Registry.register", p);
  if (!r.ok()) return r.status;
  if (!r.value.is_object() || !r.value.as_object().contains("lease")) {
    return Internal("Registry.register answered without a lease: " + json::serialize(r.value));
  }
  *lease = std::string(r.value.at("lease").as_string());
  return Status::Ok();
}

Status RegistryClient::Heartbeat(const std::string& lease) {
  return Call("Registry.heartbeat", json::object{{"lease", lease}}).status;
}

Status RegistryClient::Deregister(const std::string& lease) {
  return Call("Registry.deregister", json::object{{"lease", lease}}).status;
}

std::optional<json::object> RegistryClient::List() {
  CallResult r = Call("Registry.list", json::object{});
  if (!r.ok() || !r.value.is_object()) return std::nullopt;
  return r.value.as_object();
}

std::optional<json::object> RegistryClient::Instance(const std::string& service, const std::string& address) {
  auto list = List();
  if (!list) return std::nullopt;
  const json::value* services = list->if_contains("services");
  if (!services || !services->is_object()) return std::nullopt;
  const json::value* instances = services->as_object().if_contains(service);
  if (!instances || !instances->is_array()) return std::nullopt;
  for (const json::value& i : instances->as_array()) {
    if (i.is_object() && i.as_object().at("address") == json::value(address)) return i.as_object();
  }
  return std::nullopt;
}

std::string RegistryClient::State(const std::string& service, const std::string& address) {
  auto list = List();
  if (!list) return "error";
  const json::value* services = list->if_contains("services");
  if (!services || !services->is_object()) return "error";
  const json::value* instances = services->as_object().if_contains(service);
  if (!instances) return "absent";
  for (const json::value& i : instances->as_array()) {
    if (i.as_object().at("address") == json::value(address)) return std::string(i.as_object().at("state").as_string());
  }
  return "absent";
}

std::map<std::string, std::string> RegistryClient::States(const std::string& service) {
  std::map<std::string, std::string> out;
  auto list = List();
  const json::value* services = list ? list->if_contains("services") : nullptr;
  const json::value* instances =
      services && services->is_object() ? services->as_object().if_contains(service) : nullptr;
  if (!instances || !instances->is_array()) return out;
  for (const json::value& i : instances->as_array()) {
    out[std::string(i.at("address").as_string())] = std::string(i.at("state").as_string());
  }
  return out;
}

int64_t RegistryClient::Epoch() {
  auto list = List();
  if (!list || !list->contains("epoch")) return -1;
  return list->at("epoch").to_number<int64_t>();
}

json::array RegistryClient::Events() {
  CallResult r = Call("Sentinel.events", json::object{});
  if (!r.ok() || !r.value.is_array()) return {};
  return r.value.as_array();
}

Heartbeater::Heartbeater(std::vector<RegistryClient*> clients, std::vector<std::string> leases,
                         std::chrono::milliseconds interval)
    : clients_(std::move(clients)), leases_(std::move(leases)), interval_(interval) {
  thread_ = std::thread([this] {
    auto next = Clock::now();
    while (!stop_.load()) {
      last_sent_ns_.store(Clock::now().time_since_epoch().count());
      for (size_t i = 0; i < clients_.size(); ++i) {
        if (!clients_[i]->Heartbeat(leases_[i]).ok()) failures_.fetch_add(1);
      }
      rounds_.fetch_add(1);
      next += interval_;
      // Waits for the next round, or Stop().
      PollUntil([&] { return stop_.load() || Clock::now() >= next; }, interval_ + 1s);
    }
  });
}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

Clock::time_point Heartbeater::last_sent() const { return Clock::time_point(Clock::duration(last_sent_ns_.load())); }

HookReceiver::HookReceiver() : server_(ServerOptions{.threads = 1, .handle_signals = false}) {
  Status s = server_.AddMethod("Hook.receive", [this](const json::value& p, CallContext&) -> Result {
    std::lock_guard lock(mu_);
    received_.push_back(p);
    return json::value{{"ok", true}};
  });
  if (s.ok()) s = server_.Start("127.0.0.1:0");
  EXPECT_TRUE(s.ok()) << s;
}

HookReceiver::~HookReceiver() {
  server_.Shutdown();
  server_.Wait();
}

std::vector<json::value> HookReceiver::received(const std::string& event) const {
  std::lock_guard lock(mu_);
  std::vector<json::value> out;
  for (const json::value& v : received_) {
    if (v.is_object() && v.as_object().contains("event") && v.at("event") == json::value(event)) out.push_back(v);
  }
  return out;
}

size_t HookReceiver::total() const {
  std::lock_guard lock(mu_);
  return received_.size();
}

std::string HttpRequest(int port, const std::string& method, const std::string& path, const std::string& body,
                        std::chrono::milliseconds timeout) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (method != "GET") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  testing::RawSocket s(port);
  if (!s.connected() || !s.Send(request)) return {};
  return s.ReadResponse(timeout);
}

json::value ParseJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

int64_t InFlight(int port) {
  json::value v = ParseJson(testing::BodyOf(HttpRequest(port, "GET", "/status")));
  if (!v.is_object() || !v.as_object().contains("in_flight")) return -1;
  return v.at("in_flight").to_number<int64_t>();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string Tail(const std::string& path, size_t n) {
  std::vector<std::string> lines = ReadLines(path);
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += "  " + lines[i] + "\n";
  return out.empty() ? "  (empty)\n" : out;
}

std::vector<json::object> EventsInFile(const std::string& path, const std::string& event) {
  std::vector<json::object> out;
  for (const std::string& line : ReadLines(path)) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object line in " << path << ": '" << line << "'";
      continue;
    }
    const json::value* e = v.as_object().if_contains("event");
    if (e && *e == json::value(event)) out.push_back(v.as_object());
  }
  return out;
}

ErrorAnswer PostRaw(int port, const std::string& method, const std::string& body) {
  ErrorAnswer a;
  a.raw = HttpRequest(port, "POST", "/rpc/" + method, body);
  a.http = testing::StatusOf(a.raw);
  json::value v = ParseJson(testing::BodyOf(a.raw));
  if (v.is_object() && v.as_object().contains("error") && v.at("error").is_object()) {
    const json::object& e = v.at("error").as_object();
    if (e.contains("code") && e.at("code").is_int64()) a.code = e.at("code").as_int64();
    if (e.contains("message") && e.at("message").is_string()) a.message = std::string(e.at("message").as_string());
  }
  return a;
}

std::string DumpDom(const std::string& url, std::string* diagnostics) {
  TempDir profile("harpc-chromium-profile");
  const std::string err = profile.File("stderr.log");
  std::vector<std::string> argv = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-dev-shm-usage",
                                   "--user-data-dir=" + profile.path(),
                                   "--virtual-time-budget=3000",
                                   "--dump-dom",
                                   url};
  Subprocess p;
  Status st = Subprocess::Spawn(argv, &p, err);
  if (!st.ok()) {
    *diagnostics = "cannot start chromium: " + st.ToString();
    return "";
  }
  std::string dom;
  const auto deadline = Clock::now() + 90s;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    std::string line;
    if (!p.ReadLine(left, &line).ok()) break;  // end of output (or the deadline)
    dom += line + "\n";
  }
  std::optional<int> code = p.Wait(10s);
  if (!code || *code != 0 || dom.empty()) {
    *diagnostics = "chromium exited with " + (code ? std::to_string(*code) : std::string("(still running)")) +
                   "; stderr:\n" + Tail(err, 30);
  }
  return dom;  // `p` is SIGKILLed by PID if it still runs
}

std::string RowOf(const std::string& dom, const std::string& address) {
  const std::string key = "data-address=\"" + address + "\"";
  for (size_t pos = dom.find(key); pos != std::string::npos; pos = dom.find(key, pos + 1)) {
    size_t open = dom.rfind('<', pos);
    if (open == std::string::npos || dom.compare(open, 3, "<tr") != 0) continue;
    size_t close = dom.find("</tr>", pos);
    if (close == std::string::npos) return "";
    return dom.substr(open, close + 5 - open);
  }
  return "";
}

std::string AttributeOf(const std::string& html, const std::string& name) {
  const std::string tag = html.substr(0, html.find('>'));
  const std::string key = " " + name + "=\"";
  size_t p = tag.find(key);
  if (p == std::string::npos) return "";
  p += key.size();
  return tag.substr(p, tag.find('"', p) - p);
}

}  // namespace harpc::sentineltest
