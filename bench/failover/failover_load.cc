// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc_failover_load: `harpc bench` with a timeline, for bench/failover.sh.
//
// It runs the load of `harpc bench`: the same channel flags and report
// (src/cli/channel_flags.cc, LoadReport from src/cli/load_generator.cc) and a
// copy of RunLoad's closed loop (`concurrency` coroutines on the channel's
// loop, each sending its next call as soon as the previous one ended). The
// copy exists because RunLoad's on_tick Ticker keeps references to RunLoad's
// locals and may run after RunLoad returned (a use-after-return that crashed
// this helper); the loop itself is unchanged. On the side it adds:
//
//   * every call's outcome and latency, filed by the --tick-ms slot (default
//     100 ms) in which it ended, so that throughput and percentiles can be
//     read for any window of the run (e.g. "while the server was frozen");
//   * signals sent to other processes at fixed offsets from the start of the
//     load (--signal PID:KILL:3.0, --signal PID:STOP:3, --signal PID:CONT:7),
//     timed on the same clock as everything else;
//   * a watcher that polls, every --poll-ms (default 10 ms), either this very
//     channel's Channel::Endpoints() (the verdict that the loaded channel
//     acts on) or, with --haproxy-stats SOCKET, HAProxy's `show stat` on its
//     stats socket, and reports every change of an endpoint's state.
//
// Output: one JSON object per line on stdout, times in seconds from the start
// of the load:
//   {"type":"signal","t":3.000,"pid":N,"sig":"KILL"}
//   {"type":"state","t":3.004,"endpoint":"127.0.0.1:P","state":"suspect"}
//   {"type":"tick","t":0.1,"requests":N,"errors":N,...}   (calls that ended in [t - tick, t))
//   {"type":"window","name":"event","from":3,"to":5,"requests":N,"errors":N,"qps":X,"p50":X,"p99":X,"max_bucket":X}
//   {"type":"second","from":0,"to":1, ... same fields ...}
//   {"type":"summary","report":{... as `harpc bench --json` ...},"channel":{Channel::counters()}}
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/channel_flags.h"
#include "cli/load_generator.h"
#include "harpc/channel.h"
#include "metrics/histogram.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace json = boost::json;
using harpc::metrics::Histogram;

std::mutex out_mu;
void Emit(const json::object& o) {
  std::lock_guard lock(out_mu);
  std::printf("%s\n", json::serialize(o).c_str());
  std::fflush(stdout);
}

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
double Round3(double v) { return std::round(v * 1000) / 1000; }

struct SignalSpec {
  pid_t pid = 0;
  int sig = 0;
  std::string name;
  double at_s = 0;
};

bool ParseSignal(const std::string& s, SignalSpec* out) {
  // PID:NAME:SECONDS, NAME one of KILL STOP CONT TERM
  auto a = s.find(':'), b = s.rfind(':');
  if (a == std::string::npos || a == b) return false;
  out->pid = static_cast<pid_t>(std::stol(s.substr(0, a)));
  out->name = s.substr(a + 1, b - a - 1);
  out->at_s = std::stod(s.substr(b + 1));
  static const std::map<std::string, int> kSigs = {
      {"KILL", SIGKILL}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"TERM", SIGTERM}};
  auto it = kSigs.find(out->name);
  if (it == kSigs.end() || out->pid <= 1) return false;
  out->sig = it->second;
  return true;
}

// The calls that ended in one slot of --tick-ms.
struct Slot {
  uint64_t requests = 0, ok = 0, errors = 0, retries = 0, hedges = 0;
  Histogram latency;
};

// The channel's budget refusals over time, sampled by the watcher.
struct BudgetSample {
  double t;
  uint64_t refused;
};
uint64_t RefusedAt(const std::vector<BudgetSample>& samples, double t) {
  uint64_t v = 0;
  for (const BudgetSample& s : samples) {
    if (s.t > t) break;
    v = s.refused;
  }
  return v;
}

// Totals and percentiles of the calls that ended in [from_s, to_s).
json::object WindowJson(const std::vector<std::unique_ptr<Slot>>& slots, const std::vector<BudgetSample>& budget,
                        double tick_s, double from_s, double to_s) {
  const int first = std::max(0, static_cast<int>(std::lround(from_s / tick_s)));
  const int last = std::min(static_cast<int>(slots.size()), static_cast<int>(std::lround(to_s / tick_s)));
  Slot sum;
  for (int i = first; i < last; ++i) {
    sum.requests += slots[i]->requests;
    sum.ok += slots[i]->ok;
    sum.errors += slots[i]->errors;
    sum.retries += slots[i]->retries;
    sum.hedges += slots[i]->hedges;
    sum.latency.Merge(slots[i]->latency);
  }
  const double secs = std::max(0, last - first) * tick_s;
  return json::object{
      {"from", Round3(first * tick_s)},
      {"to", Round3(last * tick_s)},
      {"requests", sum.requests},
      {"errors", sum.errors},
      {"retries", sum.retries},
      {"hedges", sum.hedges},
      {"qps", secs > 0 ? std::round(static_cast<double>(sum.requests) / secs) : 0.0},
      {"p50", sum.latency.QuantileMicros(0.50) / 1000.0},
      {"p99", sum.latency.QuantileMicros(0.99) / 1000.0},
      {"p999", sum.latency.QuantileMicros(0.999) / 1000.0},
      {"max", sum.latency.max_micros() / 1000.0},
      // Calls slower than 100 ms: a closed loop makes few calls while it is
      // stalled, so percentiles alone understate a stall (coordinated omission).
      {"over_100ms", sum.latency.count() - sum.latency.CountAtOrBelow(100000)},
      {"budget_refused", RefusedAt(budget, last * tick_s) - RefusedAt(budget, first * tick_s)},
  };
}

// RunLoad's caller loop (src/cli/load_generator.cc), also filing each call by time slot.
struct LoadState {
  const harpc::cli::LoadSpec& spec;
  Clock::time_point start, end;
  double tick_s;
  harpc::cli::LoadReport report;
  std::vector<std::unique_ptr<Slot>> slots;
};

boost::asio::awaitable<void> Caller(harpc::Channel& channel, LoadState& state) {
  while (Clock::now() < state.end) {
    auto t0 = Clock::now();
    harpc::CallOptions options;
    options.idempotent = state.spec.idempotent;
    harpc::CallResult r = co_await channel.AsyncCall(state.spec.method, state.spec.params, options);
    const auto t1 = Clock::now();
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0);
    state.report.Record(r, latency);
    const int extra = r.attempts - 1 - (r.hedged ? 1 : 0);
    const auto index = static_cast<size_t>(std::chrono::duration<double>(t1 - state.start).count() / state.tick_s);
    while (state.slots.size() <= index) state.slots.push_back(std::make_unique<Slot>());
    Slot& slot = *state.slots[index];
    slot.latency.Record(latency);
    ++slot.requests;
    (r.ok() ? slot.ok : slot.errors) += 1;
    if (extra > 0) slot.retries += extra;
    if (r.hedged) ++slot.hedges;
  }
}

// HAProxy `show stat` over its stats socket: svname -> status ("UP", "DOWN",
// "UP 1/2", "DOWN 1/2", "no check", ...) for the servers of one backend.
bool HaproxyStatus(const std::string& socket_path, const std::string& backend,
                   std::map<std::string, std::string>* out) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  timeval tv{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return false;
  }
  const char cmd[] = "show stat\n";
  if (::write(fd, cmd, sizeof cmd - 1) != static_cast<ssize_t>(sizeof cmd - 1)) {
    ::close(fd);
    return false;
  }
  std::string text;
  char buf[16384];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(fd);

  std::istringstream lines(text);
  std::string line;
  int px = -1, sv = -1, st = -1;
  while (std::getline(lines, line)) {
    std::vector<std::string> cols;
    std::string col;
    std::istringstream cs(line);
    while (std::getline(cs, col, ',')) cols.push_back(col);
    if (!line.empty() && line[0] == '#') {
      cols[0] = cols[0].substr(cols[0].find_first_not_of("# "));
      for (int i = 0; i < static_cast<int>(cols.size()); ++i) {
        if (cols[i] == "pxname") px = i;
        if (cols[i] == "svname") sv = i;
        if (cols[i] == "status") st = i;
      }
      continue;
    }
    if (px < 0 || sv < 0 || st < 0 || static_cast<int>(cols.size()) <= st) continue;
    if (cols[px] != backend || cols[sv] == "BACKEND" || cols[sv] == "FRONTEND") continue;
    (*out)[cols[sv]] = cols[st];
  }
  return px >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace harpc;
  CLI::App app{"harpc bench's closed-loop load with a timeline, signals and an endpoint-state watcher"};
  std::string target, method = "/", data = R"({"key":"value"})", haproxy_stats, haproxy_backend = "be";
  int concurrency = 8, tick_ms = 100, poll_ms = 10;
  double duration_s = 12;
  std::vector<std::string> signal_args, window_args;
  cli::ChannelFlags channel_flags;
  app.add_option("target", target, "list://H:P[=W],... or H:P")->required();
  app.add_option("--method", method)->capture_default_str();
  app.add_option("--data", data)->capture_default_str();
  app.add_option("--concurrency,-c", concurrency)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--duration", duration_s, "Seconds of load")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--tick-ms", tick_ms, "Snapshot period of totals and latency")->check(CLI::Range(10, 10000));
  app.add_option("--poll-ms", poll_ms, "Endpoint-state polling period")->check(CLI::Range(1, 10000));
  app.add_option("--signal", signal_args, "PID:KILL|STOP|CONT|TERM:SECONDS from the start of the load");
  app.add_option("--window", window_args, "NAME:FROM:TO (seconds): report totals and percentiles of that window");
  app.add_option("--haproxy-stats", haproxy_stats, "Watch this HAProxy stats socket instead of the channel");
  app.add_option("--haproxy-backend", haproxy_backend, "HAProxy backend to watch")->capture_default_str();
  cli::AddChannelFlags(&app, channel_flags);
  CLI11_PARSE(app, argc, argv);
  // The library logs through spdlog's default logger, which writes to stdout;
  // stdout is for the JSON lines here.
  spdlog::set_default_logger(spdlog::stderr_color_mt("harpc_failover_load"));

  std::vector<SignalSpec> signals;
  for (const std::string& s : signal_args) {
    SignalSpec spec;
    if (!ParseSignal(s, &spec)) {
      std::fprintf(stderr, "harpc_failover_load: bad --signal '%s' (want PID:KILL|STOP|CONT|TERM:SECONDS)\n",
                   s.c_str());
      return 2;
    }
    signals.push_back(spec);
  }

  cli::LoadSpec spec;
  boost::system::error_code ec;
  spec.params = json::parse(data, ec);
  if (ec) {
    std::fprintf(stderr, "harpc_failover_load: --data is not valid JSON\n");
    return 2;
  }
  spec.method = method;
  spec.idempotent = channel_flags.idempotent;
  spec.concurrency = concurrency;
  spec.duration = std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000));
  ChannelOptions options;
  if (Status s = channel_flags.ToOptions(&options); !s.ok()) {
    std::fprintf(stderr, "harpc_failover_load: %s\n", s.message().c_str());
    return 2;
  }
  Channel channel(target, std::move(options));
  if (!channel.status().ok()) {
    std::fprintf(stderr, "harpc_failover_load: %s\n", channel.status().ToString().c_str());
    return 2;
  }

  std::atomic<bool> done{false};
  const Clock::time_point start = Clock::now();

  // Signals, on the load's clock.
  std::thread signaller([&] {
    for (const SignalSpec& s : signals) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(s.at_s * 1e6)));
      if (done) return;
      const double t = Since(start);
      const int rc = ::kill(s.pid, s.sig);
      Emit({{"type", "signal"}, {"t", Round3(t)}, {"pid", s.pid}, {"sig", s.name}, {"ok", rc == 0}});
    }
  });

  // Endpoint states: this channel's verdict, or HAProxy's.
  std::vector<BudgetSample> budget;  // written by the watcher, read after it ended
  std::thread watcher([&] {
    std::map<std::string, std::string> last;
    auto next = Clock::now();
    while (!done) {
      budget.push_back({Since(start), channel.counters().budget_exhausted});
      std::map<std::string, std::string> now;
      if (haproxy_stats.empty()) {
        for (const EndpointInfo& e : channel.Endpoints()) now[e.address] = e.state;
      } else if (!HaproxyStatus(haproxy_stats, haproxy_backend, &now)) {
        now.clear();
      }
      const double t = Since(start);
      for (const auto& [endpoint, state] : now) {
        auto it = last.find(endpoint);
        if (it == last.end() || it->second != state) {
          Emit({{"type", "state"}, {"t", Round3(t)}, {"endpoint", endpoint}, {"state", state}});
        }
      }
      if (!now.empty()) last = std::move(now);
      next += std::chrono::milliseconds(poll_ms);
      std::this_thread::sleep_until(next);
    }
  });

  // The load itself.
  LoadState state{.spec = spec,
                  .start = start,
                  .end = start + spec.duration,
                  .tick_s = tick_ms / 1000.0,
                  .report = {},
                  .slots = {}};
  for (const EndpointInfo& e : channel.Endpoints()) state.report.per_endpoint[e.address] = 0;
  {
    std::promise<void> all_done;
    int remaining = concurrency;  // touched on the channel's loop only
    for (int i = 0; i < concurrency; ++i) {
      boost::asio::co_spawn(channel.executor(), Caller(channel, state), [&all_done, &remaining](std::exception_ptr) {
        if (--remaining == 0) all_done.set_value();
      });
    }
    all_done.get_future().wait();
  }
  state.report.seconds = Since(start);
  cli::LoadReport& report = state.report;
  done = true;
  signaller.join();
  watcher.join();

  const double tick_s = tick_ms / 1000.0;
  for (size_t i = 0; i < state.slots.size(); ++i) {
    const Slot& k = *state.slots[i];
    Emit({{"type", "tick"},
          {"t", Round3((i + 1) * tick_s)},
          {"requests", k.requests},
          {"ok", k.ok},
          {"errors", k.errors},
          {"retries", k.retries},
          {"hedges", k.hedges},
          {"p99", k.latency.QuantileMicros(0.99) / 1000.0}});
  }
  for (int s = 0; s < static_cast<int>(std::ceil(duration_s)); ++s) {
    json::object w = WindowJson(state.slots, budget, tick_s, s, s + 1);
    w["type"] = "second";
    Emit(w);
  }
  for (const std::string& arg : window_args) {
    auto a = arg.find(':'), b = arg.rfind(':');
    if (a == std::string::npos || a == b) continue;
    json::object w =
        WindowJson(state.slots, budget, tick_s, std::stod(arg.substr(a + 1, b - a - 1)), std::stod(arg.substr(b + 1)));
    w["type"] = "window";
    w["name"] = arg.substr(0, a);
    Emit(w);
  }
  const Channel::Counters c = channel.counters();
  Emit({{"type", "summary"},
        {"report", report.ToJson()},
        {"channel", json::object{{"calls", c.calls},
                                 {"retries", c.retries},
                                 {"hedges", c.hedges},
                                 {"budget_exhausted", c.budget_exhausted}}}});
  return 0;
}
