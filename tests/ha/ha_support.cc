// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "ha_support.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>

namespace harpc::hatest {

using namespace std::chrono_literals;

ServeProcess StartServer(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::StartServe(args);
}

ServeProcess StartServerOn(int port, const std::vector<std::string>& extra, std::chrono::milliseconds timeout) {
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  std::vector<std::string> args = {"serve", "--listen", listen, "--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  ServeProcess s;
  std::string why;
  s.address = testing::StartDaemon(args, &s.process, timeout, "/dev/null", &why);
  if (s.address.empty()) {
    ADD_FAILURE() << "harpc serve could not listen on " << listen << " again: " << why;
    return {};
  }
  s.port = port;
  return s;
}

namespace {
// Whether every thread of `pid` is stopped (state T or t in /proc/PID/task/TID/stat).
bool AllThreadsStopped(pid_t pid, bool want_stopped) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;  // thread gone meanwhile
    const char state = stat[paren + 2];
    const bool stopped = state == 'T' || state == 't';
    if (stopped != want_stopped) return false;
    ++threads;
  }
  return !ec && threads > 0;
}
}  // namespace

bool StopServer(const ServeProcess& server, std::chrono::milliseconds timeout) {
  server.process.Signal(SIGSTOP);
  return PollUntil([&] { return AllThreadsStopped(server.process.pid(), true); }, timeout);
}

bool ResumeServer(const ServeProcess& server, std::chrono::milliseconds timeout) {
  server.process.Signal(SIGCONT);
  return PollUntil([&] { return AllThreadsStopped(server.process.pid(), false); }, timeout);
}

std::string ListTarget(const std::vector<const ServeProcess*>& servers) {
  std::string t = "list://";
  for (size_t i = 0; i < servers.size(); ++i) {
    if (i) t += ",";
    t += servers[i]->address;
  }
  return t;
}

std::string ListTarget(const std::vector<ServeProcess>& servers) {
  std::vector<const ServeProcess*> p;
  for (const auto& s : servers) p.push_back(&s);
  return ListTarget(p);
}

ChannelOptions FastOptions() {
  ChannelOptions o;
  o.timeout = 2000ms;
  o.connect_timeout = 500ms;
  o.health.interval = 200ms;
  o.health.fall = 2;
  o.health.rise = 2;
  o.health.max_backoff = 400ms;
  return o;
}

std::optional<EndpointInfo> InfoOf(const Channel& channel, const std::string& address) {
  for (auto& e : channel.Endpoints()) {
    if (e.address == address) return e;
  }
  return std::nullopt;
}

std::string StateOf(const Channel& channel, const std::string& address) {
  auto info = InfoOf(channel, address);
  return info ? info->state : "(unknown endpoint)";
}

uint64_t PicksOf(const Channel& channel, const std::string& address) {
  auto info = InfoOf(channel, address);
  return info ? info->picks : 0;
}

std::string Describe(const Channel& channel) {
  std::ostringstream out;
  for (auto& e : channel.Endpoints()) {
    out << e.address << "=" << e.state << "(picks " << e.picks << ", ok " << e.successes << ", failed " << e.failures
        << ", ejections " << e.ejections << ") ";
  }
  auto c = channel.counters();
  out << "| calls " << c.calls << " retries " << c.retries << " hedges " << c.hedges << " budget_exhausted "
      << c.budget_exhausted;
  return out.str();
}

int64_t CounterOf(const ServeProcess& server) {
  ChannelOptions o;
  o.timeout = 5000ms;
  o.health.interval = 0ms;
  o.retry.max_retries = 5;
  Channel channel("list://" + server.address, o);
  CallOptions call;
  call.idempotent = true;  // Counter.get only reads
  // Counter.get may meet --reset-rate too: idempotent, so retried.
  for (int i = 0; i < 20; ++i) {
    CallResult r = channel.Call("Counter.get", nullptr, call);
    if (r.ok() && r.value.is_object()) return r.value.as_object().at("value").as_int64();
  }
  ADD_FAILURE() << "Counter.get on " << server.address << " kept failing";
  return -1;
}

Load::Load(Channel& channel, LoadOptions options) : channel_(channel), options_(std::move(options)) {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

Load::~Load() { Stop(); }

void Load::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Load::Run() {
  while (!stop_) {
    CallRecord rec;
    rec.started = Clock::now();
    rec.result = channel_.Call(options_.method, options_.params, options_.call);
    rec.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - rec.started);
    (rec.result.ok() ? ok_ : failed_).fetch_add(1);
    {
      std::lock_guard lock(mu_);
      records_.push_back(std::move(rec));
    }
    done_.fetch_add(1);
    if (options_.pause.count() > 0)
      std::this_thread::sleep_for(options_.pause);  // the load's own pace, not a wait for a condition
  }
}

bool Load::WaitForMore(uint64_t n, std::chrono::milliseconds timeout) const {
  const uint64_t target = done() + n;
  return PollUntil([&] { return done() >= target; }, timeout);
}

std::map<std::string, uint64_t> Load::ByEndpoint() const {
  std::map<std::string, uint64_t> out;
  std::lock_guard lock(mu_);
  for (const auto& r : records_) {
    if (r.result.ok()) ++out[r.result.endpoint];
  }
  return out;
}

std::string Load::FailureSummary() const {
  std::ostringstream out;
  std::lock_guard lock(mu_);
  int shown = 0;
  for (const auto& r : records_) {
    if (r.result.ok()) continue;
    if (++shown > 10) {
      out << "...";
      break;
    }
    out << "[" << r.result.status << " endpoint=" << r.result.endpoint << " attempts=" << r.result.attempts
        << " latency=" << r.latency.count() / 1000 << "ms] ";
  }
  return out.str();
}

std::vector<CallRecord> Load::Records() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::chrono::microseconds Load::max_latency() const {
  std::lock_guard lock(mu_);
  std::chrono::microseconds m{0};
  for (const auto& r : records_) m = std::max(m, r.latency);
  return m;
}

}  // namespace harpc::hatest
