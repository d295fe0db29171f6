// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc demo: a local cluster that shows every HA mechanism at work, in under
// a minute. Three echo servers weighted 5, 1, 1 take a steady load through
// one channel while the demo kills one (SIGKILL), freezes another (SIGSTOP,
// later SIGCONT), slows the third, and brings the dead one back. A table
// shows every second who answers, in which state; the summary shows the
// failed calls (zero) and how long each detection and recovery took.
//
// Every process the demo starts is its child, stopped by PID at the end (and
// killed by the kernel if the demo itself dies).
#include <stdlib.h>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "cli/commands.h"
#include "cli/demo_support.h"
#include "cli/load_generator.h"
#include "cli/security_flags.h"
#include "harpc/channel.h"
#include "util/free_port.h"
#include "util/subprocess.h"

namespace harpc::cli {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct DemoServer {
  std::string name;
  int weight = 1;
  Subprocess process;
  std::string address;
};

Status StartServer(DemoServer& s, const std::string& listen, const DemoTrust& trust) {
  return StartDaemonProcess({"serve", "--listen", listen, "--name", s.name, "--threads", "1"}, trust, &s.process,
                            &s.address);
}

class Demo {
 public:
  explicit Demo(DemoTrust trust) : trust_(std::move(trust)) {}
  int Run();

 private:
  // printf-style, checked by the compiler at every call (the format attribute).
  __attribute__((format(printf, 2, 3))) void Say(const char* format, ...) {
    std::lock_guard lock(print_mu_);
    std::printf("%6.1fs  ", Seconds());
    va_list args;
    va_start(args, format);
    std::vprintf(format, args);
    va_end(args);
    std::printf("\n");
    std::fflush(stdout);
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void SleepUntil(double seconds) {
    std::this_thread::sleep_until(start_ +
                                  std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  }
  std::string StateOf(const std::string& address) {
    for (const EndpointInfo& e : channel_->Endpoints()) {
      if (e.address == address) return e.state;
    }
    return "?";
  }
  // Milliseconds until `address` is (or stops being) healthy in the channel's view.
  long WaitForState(const std::string& address, bool healthy, milliseconds limit) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < limit) {
      if ((StateOf(address) == "healthy") == healthy) {
        return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return -1;
  }
  void Tick(const LoadReport& report);
  void SetDelay(const DemoServer& s, int ms);
  int RunSentinelChapter();

  DemoTrust trust_;
  Clock::time_point start_ = Clock::now();
  std::mutex print_mu_;
  std::vector<DemoServer> servers_;
  std::unique_ptr<Channel> channel_;
  std::map<std::string, uint64_t> last_per_endpoint_;
  uint64_t last_requests_ = 0, last_errors_ = 0;
  std::vector<std::string> summary_;
};

void Demo::Tick(const LoadReport& report) {
  // Runs on the channel's loop: reads its endpoints inline.
  std::string line;
  char cell[96];
  const uint64_t calls = report.requests - last_requests_;
  std::snprintf(cell, sizeof cell, "%6llu calls %3llu failed |", (unsigned long long)calls,
                (unsigned long long)(report.errors - last_errors_));
  line += cell;
  for (const EndpointInfo& e : channel_->Endpoints()) {
    const auto it = report.per_endpoint.find(e.address);
    const uint64_t now = it == report.per_endpoint.end() ? 0 : it->second;
    const uint64_t delta = now - last_per_endpoint_[e.address];
    last_per_endpoint_[e.address] = now;
    const std::string* name = &e.address;
    for (const DemoServer& s : servers_) {
      if (s.address == e.address) name = &s.name;
    }
    std::snprintf(cell, sizeof cell, " %-5s %5.1f%% %-9s |", name->c_str(),
                  calls ? 100.0 * static_cast<double>(delta) / static_cast<double>(calls) : 0.0, e.state.c_str());
    line += cell;
  }
  last_requests_ = report.requests;
  last_errors_ = report.errors;
  Say("%s", line.c_str());
}

void Demo::SetDelay(const DemoServer& s, int ms) {
  Channel direct(s.address, {.security = trust_.security});
  boost::json::value params = {{"delay_ms", ms}};
  CallResult r = direct.Call("Fault.set", params);
  if (!r.ok()) Say("could not slow %s: %s", s.name.c_str(), r.status.ToString().c_str());
}

int Demo::Run() {
  std::printf(
      "harpc demo: three echo servers weighted 5, 1, 1; one channel (least_time balancer, heartbeats\n"
      "every 500 ms with fall 2 / rise 2, outlier ejection, circuit breakers, retries with a budget,\n"
      "hedged requests at the recent p95, slow start) drives 8 concurrent callers for 24 s.\n\n");
  const char* names[] = {"alpha", "beta", "gamma"};
  const int weights[] = {5, 1, 1};
  servers_.resize(3);
  for (int i = 0; i < 3; ++i) {
    servers_[i].name = names[i];
    servers_[i].weight = weights[i];
    if (Status s = StartServer(servers_[i], "127.0.0.1:0", trust_); !s.ok()) {
      std::fprintf(stderr, "harpc demo: cannot start %s: %s\n", names[i], s.ToString().c_str());
      return 1;
    }
    std::printf("  %-6s %-22s weight %d  pid %d\n", names[i], servers_[i].address.c_str(), weights[i],
                servers_[i].process.pid());
  }
  std::string target = "list://";
  for (const DemoServer& s : servers_)
    target += (target.size() > 7 ? "," : "") + s.address + "=" + std::to_string(s.weight);

  ChannelOptions options;
  options.security = trust_.security;
  options.lb = "least_time";
  options.timeout = milliseconds(1000);
  options.health.interval = milliseconds(500);
  options.health.max_backoff = milliseconds(1000);
  options.hedge.use_p95 = true;
  options.slow_start = milliseconds(3000);
  options.idempotent_methods = {"/"};  // the echo service's default method is idempotent
  channel_ = std::make_unique<Channel>(target, options);
  std::printf("  target %s\n\n", target.c_str());

  DemoServer& alpha = servers_[0];
  DemoServer& beta = servers_[1];
  DemoServer& gamma = servers_[2];
  start_ = Clock::now();
  LoadReport report;
  std::thread load([&] {
    LoadSpec spec{.method = "/",
                  .params = boost::json::parse(R"({"key":"value"})"),
                  .concurrency = 8,
                  .duration = std::chrono::seconds(24)};
    report = RunLoad(*channel_, spec, [this](const LoadReport& r) { Tick(r); });
  });

  SleepUntil(3);
  gamma.process.Signal(SIGKILL);
  Say(">>> gamma killed with SIGKILL");
  long ms = WaitForState(gamma.address, false, milliseconds(5000));
  Say(">>> gamma taken out after %ld ms (connection refused: suspect at once)", ms);
  summary_.push_back("gamma SIGKILL  -> taken out in " + std::to_string(ms) + " ms");

  SleepUntil(6);
  beta.process.Signal(SIGSTOP);
  Say(">>> beta frozen with SIGSTOP (it accepts connections but never answers)");
  ms = WaitForState(beta.address, false, milliseconds(5000));
  Say(">>> beta taken out after %ld ms (heartbeats: 2 probes x 500 ms; hedges covered the gap)", ms);
  summary_.push_back("beta SIGSTOP   -> taken out in " + std::to_string(ms) +
                     " ms (bound: fall x interval = 1000 ms + probe phase)");

  SleepUntil(10);
  beta.process.Signal(SIGCONT);
  Say(">>> beta resumed with SIGCONT");
  ms = WaitForState(beta.address, true, milliseconds(5000));
  Say(">>> beta readmitted after %ld ms (2 good probes), slow start over 3 s", ms);
  summary_.push_back("beta SIGCONT   -> readmitted in " + std::to_string(ms) + " ms");

  SleepUntil(13);
  SetDelay(alpha, 20);
  Say(">>> alpha slowed down: every call now takes 20 ms");
  SleepUntil(17);
  SetDelay(alpha, 0);
  Say(">>> alpha back to full speed");

  SleepUntil(19);
  if (Status s = StartServer(gamma, gamma.address, trust_); !s.ok()) {
    Say(">>> could not restart gamma: %s", s.ToString().c_str());
  } else {
    Say(">>> gamma restarted on its old address (pid %d)", gamma.process.pid());
    ms = WaitForState(gamma.address, true, milliseconds(5000));
    Say(">>> gamma readmitted after %ld ms, slow start over 3 s", ms);
    summary_.push_back("gamma restart  -> readmitted in " + std::to_string(ms) + " ms");
  }
  load.join();

  const Channel::Counters counters = channel_->counters();
  std::printf("\n== Summary\n");
  std::printf("  calls %llu   failed %llu   retries %llu   hedges %llu   qps %.0f\n",
              (unsigned long long)report.requests, (unsigned long long)report.errors,
              (unsigned long long)counters.retries, (unsigned long long)counters.hedges, report.qps());
  std::printf("  latency ms  p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n", report.LatencyMs(0.5), report.LatencyMs(0.99),
              report.LatencyMs(0.999), report.latency->max_micros() / 1000.0);
  for (const std::string& s : summary_) std::printf("  %s\n", s.c_str());
  std::printf("  answers per endpoint:");
  for (const auto& [address, n] : report.per_endpoint) std::printf("  %s %llu", address.c_str(), (unsigned long long)n);
  std::printf("\n");

  std::printf("\n== Graceful shutdown: SIGTERM drains and exits 0\n");
  channel_.reset();
  for (DemoServer& s : servers_) {
    s.process.Signal(SIGTERM);
    auto code = s.process.Wait(std::chrono::seconds(15));
    std::printf("  %-6s exit status %s\n", s.name.c_str(), code ? std::to_string(*code).c_str() : "(still running)");
  }
  std::printf("\n%s: %llu failed calls out of %llu.\n", report.errors == 0 ? "PASS" : "FAIL",
              (unsigned long long)report.errors, (unsigned long long)report.requests);
  const int sentinel_failures = RunSentinelChapter();
  const int transaction_failures = RunTransactionChapter(trust_);
  const int trust_failures = RunTrustChapter();
  return report.errors == 0 && sentinel_failures == 0 && transaction_failures == 0 && trust_failures == 0 ? 0 : 1;
}

// Three sentinels (quorum 2) watch three registered servers; the client
// resolves through them. One server dies: SDOWN, ODOWN, alert, client update.
int Demo::RunSentinelChapter() {
  std::printf(
      "\n== Sentinels: three sentinels (quorum 2, down-after 500 ms, probes every 100 ms) watch three\n"
      "   self-registered servers; a channel on sentinel://.../echo follows them.\n\n");
  std::string dir;
  if (!MakeChapterDir("sentinel", &dir)) return 1;
  const std::string alerts = dir + "/alerts.jsonl";
  std::vector<int> ports = {FreePort(), FreePort(), FreePort()};
  std::vector<std::string> sentinel_addrs;
  sentinel_addrs.reserve(ports.size());
  for (int p : ports) sentinel_addrs.push_back("127.0.0.1:" + std::to_string(p));
  std::vector<Subprocess> sentinels(3);
  for (int i = 0; i < 3; ++i) {
    std::string peers;
    for (int j = 0; j < 3; ++j) {
      if (j != i) peers += (peers.empty() ? "" : ",") + sentinel_addrs[j];
    }
    std::string address;
    Status s = StartDaemonProcess(
        {"sentinel", "--listen", sentinel_addrs[i], "--data-dir", dir + "/s" + std::to_string(i), "--peers", peers,
         "--quorum", "2", "--down-after-ms", "500", "--probe-interval-ms", "100", "--notify", "cat >> " + alerts},
        trust_, &sentinels[i], &address);
    if (!s.ok()) {
      std::printf("  cannot start sentinel %d: %s\n", i + 1, s.ToString().c_str());
      return 1;
    }
    std::printf("  sentinel %d  %s  dashboard http://%s/\n", i + 1, address.c_str(), address.c_str());
  }
  const std::string group = sentinel_addrs[0] + "," + sentinel_addrs[1] + "," + sentinel_addrs[2];
  std::vector<DemoServer> servers(3);
  for (int i = 0; i < 3; ++i) {
    servers[i].name = std::string("node") + std::to_string(i + 1);
    Status s = StartDaemonProcess({"serve", "--listen", "127.0.0.1:0", "--name", servers[i].name, "--threads", "1",
                                   "--register", "sentinel://" + group, "--lease-ttl-ms", "2000"},
                                  trust_, &servers[i].process, &servers[i].address);
    if (!s.ok()) {
      std::printf("  cannot start %s: %s\n", servers[i].name.c_str(), s.ToString().c_str());
      return 1;
    }
    std::printf("  %-6s %-22s registered itself with --register sentinel://...\n", servers[i].name.c_str(),
                servers[i].address.c_str());
  }

  ChannelOptions options;
  options.security = trust_.security;
  options.idempotent_methods = {"/"};
  Channel channel("sentinel://" + group + "/echo", options);
  auto members = [&] {
    std::vector<std::string> out;
    for (const EndpointInfo& e : channel.Endpoints()) out.push_back(e.address);
    return out;
  };
  const auto t_wait = Clock::now();
  while (members().size() < 3 && Clock::now() - t_wait < std::chrono::seconds(5))
    std::this_thread::sleep_for(milliseconds(5));
  std::printf("  the channel resolved %zu instances through the sentinels\n\n", members().size());

  LoadReport report;
  std::thread load([&] {
    LoadSpec spec{.method = "/",
                  .params = boost::json::parse(R"({"key":"value"})"),
                  .concurrency = 4,
                  .duration = std::chrono::seconds(5)};
    report = RunLoad(channel, spec);
  });
  std::this_thread::sleep_for(milliseconds(1000));

  DemoServer& victim = servers[2];
  std::vector<std::unique_ptr<Channel>> watchers;
  for (const std::string& a : sentinel_addrs) {
    ChannelOptions o;
    o.security = trust_.security;
    o.health.interval = milliseconds(0);
    o.retry.max_retries = 0;
    watchers.push_back(std::make_unique<Channel>(a, o));
  }
  auto state_on = [&](Channel& w) -> std::string {
    CallResult r = w.Call("Registry.list", boost::json::object{});
    if (!r.ok()) return "?";
    for (const auto& v : r.value.at("services").as_object().at("echo").as_array()) {
      if (v.at("address").as_string() == victim.address) return std::string(v.at("state").as_string());
    }
    return "gone";
  };
  auto alert_text = [&] {
    std::FILE* f = std::fopen(alerts.c_str(), "r");
    if (!f) return std::string();
    char buf[512] = {0};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    return std::string(buf, n);
  };
  const auto t0 = Clock::now();
  victim.process.Signal(SIGKILL);
  std::printf("  +%5d ms  %s (%s) killed with SIGKILL\n", 0, victim.name.c_str(), victim.address.c_str());
  auto since = [&] { return static_cast<int>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count()); };
  bool sdown = false, odown = false, alerted = false, updated = false;
  while ((!sdown || !odown || !alerted || !updated) && Clock::now() - t0 < std::chrono::seconds(8)) {
    for (size_t i = 0; i < watchers.size() && (!sdown || !odown); ++i) {
      const std::string st = state_on(*watchers[i]);
      if (!sdown && (st == "sdown" || st == "odown")) {
        sdown = true;
        std::printf("  +%5d ms  SDOWN: sentinel %zu gets no answer from it (its own opinion)\n", since(), i + 1);
      }
      if (!odown && st == "odown") {
        odown = true;
        std::printf("  +%5d ms  ODOWN: the quorum agreed (seen on sentinel %zu)\n", since(), i + 1);
      }
    }
    if (!alerted && !alert_text().empty()) {
      alerted = true;
      std::string a = alert_text();
      a.erase(a.find_last_not_of('\n') + 1);
      std::printf("  +%5d ms  alert (--notify, run once by the leader): %s\n", since(), a.c_str());
    }
    if (!updated) {
      auto m = members();
      if (std::find(m.begin(), m.end(), victim.address) == m.end()) {
        updated = true;
        std::printf("  +%5d ms  the client's membership no longer lists it (%zu instances left)\n", since(), m.size());
      }
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  load.join();
  std::printf("\n  load through the sentinel-resolved channel: %llu calls, %llu failed\n",
              (unsigned long long)report.requests, (unsigned long long)report.errors);
  std::printf("  dashboard: http://%s/   (the sentinels stop with the demo)\n", sentinel_addrs[0].c_str());
  for (DemoServer& s : servers) s.process.Signal(SIGTERM);
  for (Subprocess& s : sentinels) s.Signal(SIGTERM);
  for (DemoServer& s : servers) s.process.Wait(std::chrono::seconds(10));
  for (Subprocess& s : sentinels) s.Wait(std::chrono::seconds(10));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool ok = sdown && odown && alerted && updated && report.errors == 0;
  std::printf("\n%s: sentinel chain %s, %llu failed calls.\n", ok ? "PASS" : "FAIL",
              sdown && odown && alerted && updated ? "complete" : "incomplete", (unsigned long long)report.errors);
  return ok ? 0 : 1;
}

}  // namespace

int FreePort() { return FreeListenPort(); }

bool MakeChapterDir(const char* name, std::string* dir) {
  std::string path = std::string("/tmp/harpc-demo-") + name + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    std::printf("  cannot make a temporary directory\n");
    return false;
  }
  *dir = path;
  return true;
}

Status StartDaemonProcess(std::vector<std::string> argv, const DemoTrust& trust, Subprocess* p, std::string* address) {
  argv.insert(argv.begin(), SelfExecutable());
  argv.insert(argv.end(), trust.daemon_args.begin(), trust.daemon_args.end());
  if (Status s = Subprocess::Spawn(argv, p, "/dev/null"); !s.ok()) return s;
  std::string line;
  if (Status s = p->ReadLine(std::chrono::seconds(10), &line); !s.ok()) return s;
  if (line.rfind("listening on ", 0) != 0) return Internal("unexpected first line: " + line);
  *address = line.substr(13);
  return Status::Ok();
}

void AddDemoCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("demo", "Run a local cluster that shows every HA mechanism at work (< 1 min)");
  auto trust = std::make_shared<SecurityFlags>();
  // The demo's daemons get the same flags; its own channels present them too.
  AddSecurityFlags(cmd, *trust, /*daemon=*/true);
  cmd->callback([trust, &exit_code] {
    DemoTrust demo_trust{.daemon_args = trust->Args()};
    if (!ResolveSecurityFlags(*trust, "demo", &demo_trust.security)) {
      exit_code = 2;
      return;
    }
    exit_code = Demo(std::move(demo_trust)).Run();
  });
}

}  // namespace harpc::cli
