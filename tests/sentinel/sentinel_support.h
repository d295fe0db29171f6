// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the sentinel tests share: temporary data directories, `harpc sentinel`
// children (alone or as a group whose members know each other's ports),
// `harpc serve` restarted on its old port, hosts of many instances, a registry client over
// harpc::Channel, a lease heartbeater thread, and polling helpers.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "support/test_support.h"

namespace harpc::sentineltest {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using testing::HoldsFor;
using testing::PollUntil;
using testing::ServeProcess;
using testing::Since;
using testing::TempDir;
using namespace std::chrono_literals;

// A port that was free a moment ago (bound to port 0, then closed).
int ReservePort();

// A bound socket that never listens: connecting to its port is refused, and
// nobody else can take the port while it lives. A peer that is down.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct SentinelConfig {
  std::string data_dir;                 // required
  std::vector<std::string> peers;       // "127.0.0.1:P"
  int quorum = 0;                       // 0: the sentinel's default (a majority)
  int down_after_ms = 500;              // 0: the sentinel's default (the flag is not passed)
  int probe_interval_ms = 100;          // 0: the sentinel's default
  int lease_ttl_ms = 0;                 // --lease-ttl-ms; 0: the sentinel's default
  std::string notify;                   // --notify CMD
  std::string webhook;                  // --webhook URL
  std::vector<std::string> extra_args;  // further flags, as written
};

// A `harpc sentinel` child; SIGKILLed and reaped when destroyed. Its stderr
// (the logs) goes to DATA_DIR/sentinel.log, appended across restarts.
struct SentinelProcess {
  Subprocess process;
  std::string address;  // "127.0.0.1:PORT"
  int port = 0;
  SentinelConfig config;
  std::string log_path() const { return config.data_dir + "/sentinel.log"; }
};

// Starts a sentinel on `port` (0: a free one). For a fixed port, retries for
// up to `timeout` while the port is still taken (a restart). Returns a
// process with port 0 (and adds no failure) when it could not start.
SentinelProcess TryStartSentinel(const SentinelConfig& config, int port = 0, std::chrono::milliseconds timeout = 10s);
// The same, failing the test (ADD_FAILURE) when it cannot start.
SentinelProcess StartSentinel(const SentinelConfig& config, int port = 0, std::chrono::milliseconds timeout = 10s);
// SIGKILLs `s` and starts it again on the same port and data dir.
void RestartSentinel(SentinelProcess& s);

// `n` sentinels that list each other as peers, each with a data dir in
// `dirs` (created here) and `base` as the rest of its configuration.
std::vector<SentinelProcess> StartGroup(int n, const SentinelConfig& base, std::vector<std::unique_ptr<TempDir>>& dirs);

// `harpc serve --threads 1` on 127.0.0.1:port (0: a free one), retrying for
// up to `timeout` while the port is still taken (a restart).
ServeProcess StartServeOn(int port, std::chrono::milliseconds timeout = 10s);

// Many instances in one process (tests/sentinel/health_host.py): GET /health
// answered on many loopback ports, so that one SIGKILL takes them all down
// at once, like a host dying with its instances. SIGKILLed and reaped when
// destroyed.
struct HealthHost {
  Subprocess process;
  std::vector<std::string> addresses;  // "127.0.0.1:PORT", one per instance
};
// Listens on `count` free ports below the ephemeral range (testing::FreePort:
// once it is killed, no other test's server or connection takes them); no
// addresses (and a test failure) when it did not start.
HealthHost StartHealthHost(size_t count);
// Listens again on the ports of `addresses` (a host coming back).
HealthHost RestartHealthHost(const std::vector<std::string>& addresses);

// A registry client bound to one sentinel: no retries, no health checks, no
// ejection, so that every call reaches the sentinel (or fails) on its own.
class RegistryClient {
 public:
  explicit RegistryClient(const std::string& sentinel_address);

  CallResult Call(const std::string& method, const json::value& params, std::chrono::milliseconds timeout = 3s);

  // Registry.register; the lease on success.
  Status Register(const std::string& service, const std::string& address, int weight, int64_t ttl_ms,
                  std::string* lease, const std::string& name = "");
  Status Heartbeat(const std::string& lease);
  Status Deregister(const std::string& lease);
  // Registry.list; nullopt when the call failed.
  std::optional<json::object> List();
  // The instance as Registry.list shows it; nullopt if absent or the call failed.
  std::optional<json::object> Instance(const std::string& service, const std::string& address);
  // Its "state" ("up", "sdown", "odown", "draining"), "absent", or "error".
  std::string State(const std::string& service, const std::string& address);
  // Every instance of `service` as Registry.list shows it: address → state
  // (empty when the call failed or the service has none).
  std::map<std::string, std::string> States(const std::string& service);
  // Registry.list's epoch, or -1 on error.
  int64_t Epoch();
  // Sentinel.events, newest first (empty on error).
  json::array Events();

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::unique_ptr<Channel> channel_;
};

// Renews a lease every `interval` on every sentinel of `clients`, from a
// thread of its own, until Stop() or destruction.
class Heartbeater {
 public:
  Heartbeater(std::vector<RegistryClient*> clients, std::vector<std::string> leases,
              std::chrono::milliseconds interval);
  ~Heartbeater();
  void Stop();
  // When the last round of heartbeats started, and whether all of them succeeded.
  Clock::time_point last_sent() const;
  uint64_t rounds() const { return rounds_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  std::vector<RegistryClient*> clients_;
  std::vector<std::string> leases_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> last_sent_ns_{0};
  std::atomic<uint64_t> rounds_{0}, failures_{0};
  std::thread thread_;
};

// A webhook receiver (--webhook): an in-process harpc server on 127.0.0.1
// whose Hook.receive keeps every event POSTed to it.
class HookReceiver {
 public:
  HookReceiver();
  ~HookReceiver();
  HookReceiver(const HookReceiver&) = delete;
  HookReceiver& operator=(const HookReceiver&) = delete;
  std::string url() const { return "http://" + server_.address() + "/rpc/Hook.receive"; }
  // The events received whose "event" is `event`, in arrival order.
  std::vector<json::value> received(const std::string& event) const;
  size_t total() const;

 private:
  Server server_;
  mutable std::mutex mu_;
  std::vector<json::value> received_;
};

// One HTTP/1.1 request on a fresh loopback connection; the raw response ("" on failure).
std::string HttpRequest(int port, const std::string& method, const std::string& path, const std::string& body = "",
                        std::chrono::milliseconds timeout = 5s);
// Parses JSON; null when the text is not JSON.
json::value ParseJson(const std::string& text);
// The "in_flight" calls of a server's GET /status, -1 if it did not answer.
int64_t InFlight(int port);

// A POST /rpc/<Method> answer, with the error's code and message when it is one.
struct ErrorAnswer {
  int http = 0;
  int64_t code = 0;
  std::string message;
  std::string raw;
};
ErrorAnswer PostRaw(int port, const std::string& method, const std::string& body);

// Lines of a file (empty if it does not exist).
std::vector<std::string> ReadLines(const std::string& path);
// The last `n` lines of a file, for failure messages.
std::string Tail(const std::string& path, size_t n = 40);
// The JSON objects among the lines of `path` whose "event" is `event`.
std::vector<json::object> EventsInFile(const std::string& path, const std::string& event);

// Headless Chromium (scripts/setup installs it), for the dashboard.
constexpr const char* kChromium = "/usr/bin/chromium";
// The page's DOM after its scripts ran for 3 s of virtual time ("" on failure,
// with what went wrong in `diagnostics`).
std::string DumpDom(const std::string& url, std::string* diagnostics);
// The <tr ...>...</tr> of the instance row whose data-address is `address` ("" if none).
std::string RowOf(const std::string& dom, const std::string& address);
// The value of attribute `name` in the first tag of `html` ("" if absent).
std::string AttributeOf(const std::string& html, const std::string& name);

}  // namespace harpc::sentineltest
