// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "txn_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace harpc::txntest {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Whether every thread of `pid` is stopped (want_stopped) or running (state
// T or t in /proc/PID/task/TID/stat means stopped).
bool AllThreads(pid_t pid, bool want_stopped) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  int threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    const std::string stat = ReadFile((task.path() / "stat").string());
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue;  // the thread ended meanwhile
    const char state = stat[paren + 2];
    if ((state == 'T' || state == 't') != want_stopped) return false;
    ++threads;
  }
  return !ec && threads > 0;
}
}  // namespace

bool Daemon::Launch(const std::string& listen) {
  std::vector<std::string> argv = {args_.front(), "--listen", listen};
  argv.insert(argv.end(), args_.begin() + 1, args_.end());
  std::string why;
  address_ = testing::StartDaemon(argv, &process_, 15s, log_, &why);
  if (address_.empty()) {
    ADD_FAILURE() << "harpc " << args_.front() << " did not start on " << listen << ": " << why << "\n"
                  << ReadFile(log_);
    return false;
  }
  port_ = testing::PortOf(address_);
  ++starts_;
  return true;
}

bool Daemon::Start(std::vector<std::string> args, std::string log, const std::string& listen) {
  args_ = std::move(args);
  log_ = std::move(log);
  return Launch(listen);
}

std::string LogTail(const std::string& path, size_t bytes) {
  std::string text = ReadFile(path);
  return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

void Daemon::Kill() {
  if (!process_.running()) return;
  process_.Signal(SIGKILL);
  process_.Signal(SIGCONT);  // a stopped process must run to die
  if (!process_.Wait(10s)) ADD_FAILURE() << "pid " << process_.pid() << " did not die of SIGKILL";
}

bool Daemon::Restart() {
  Kill();
  const int port = port_;
  return Launch("127.0.0.1:" + std::to_string(port)) && port_ == port;
}

bool Daemon::Stop() {
  process_.Signal(SIGSTOP);
  return PollUntil([&] { return AllThreads(process_.pid(), true); }, 10s);
}

bool Daemon::Resume() {
  process_.Signal(SIGCONT);
  return PollUntil([&] { return AllThreads(process_.pid(), false); }, 10s);
}

Cluster::Cluster(int n, std::vector<std::string> bank_extra) {
  coordinator = std::make_unique<Daemon>();
  if (!coordinator->Start({"coordinator", "--data-dir", dir.File("coordinator")}, dir.File("coordinator.log"))) return;
  for (int i = 0; i < n; ++i) {
    auto bank = std::make_unique<Daemon>();
    std::vector<std::string> args = {"serve",
                                     "--service",
                                     "bank",
                                     "--threads",
                                     "1",
                                     "--name",
                                     "bank" + std::to_string(i),
                                     "--db",
                                     dir.File("bank" + std::to_string(i) + ".db"),
                                     "--coordinator",
                                     coordinator->address()};
    args.insert(args.end(), bank_extra.begin(), bank_extra.end());
    if (!bank->Start(args, dir.File("bank" + std::to_string(i) + ".log"))) return;
    banks.push_back(std::move(bank));
  }
}

Cluster::~Cluster() {
  if (::testing::Test::HasFailure()) std::fprintf(stderr, "%s\n", Logs().c_str());
  // HARPC_TXN_KEEP_LOGS=DIR: keep every process's log there (for reading after a run).
  // Nothing in the tests sets the environment.
  if (const char* keep = std::getenv("HARPC_TXN_KEEP_LOGS"); keep && *keep) {  // NOLINT(concurrency-mt-unsafe)
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::filesystem::path to = std::filesystem::path(keep) / (test ? test->name() : "cluster");
    std::error_code ec;
    std::filesystem::create_directories(to, ec);
    for (const auto& entry : std::filesystem::directory_iterator(dir.path(), ec)) {
      if (entry.path().extension() == ".log") {
        std::filesystem::copy_file(entry.path(), to / entry.path().filename(),
                                   std::filesystem::copy_options::overwrite_existing, ec);
      }
    }
  }
}

bool Cluster::ok() const {
  if (!coordinator || coordinator->address().empty() || banks.empty()) return false;
  for (const auto& b : banks) {
    if (b->address().empty()) return false;
  }
  return true;
}

std::string Cluster::Logs(size_t bytes) const {
  std::ostringstream out;
  std::vector<std::string> names = {"coordinator"};
  for (size_t i = 0; i < banks.size(); ++i) names.push_back("bank" + std::to_string(i));
  for (const std::string& name : names) {
    out << "----- " << name << ".log -----\n" << LogTail(dir.File(name + ".log"), bytes) << "\n";
  }
  return out.str();
}

ChannelOptions ClientOptions(std::chrono::milliseconds timeout) {
  ChannelOptions o;
  o.timeout = timeout;
  o.connect_timeout = 300ms;
  o.health.interval = 200ms;
  o.health.fall = 2;
  o.health.rise = 1;
  o.health.max_backoff = 400ms;
  // A restarted process is whole at once: no ramp, no ejection to sit out.
  o.slow_start = 0ms;
  o.outlier.consecutive_failures = 0;
  o.outlier.failure_ratio = 0;
  o.breaker.failure_ratio = 0;
  return o;
}

ChannelOptions OneShotOptions(std::chrono::milliseconds timeout) {
  ChannelOptions o = ClientOptions(timeout);
  o.health.interval = 0ms;  // a few calls: no heartbeats
  return o;
}

CallResult CallOnce(const std::string& address, const std::string& method, const json::value& params,
                    std::chrono::milliseconds timeout, bool idempotent) {
  Channel channel("list://" + address, OneShotOptions(timeout));
  CallOptions call;
  call.idempotent = idempotent;
  return channel.Call(method, params, call);
}

bool OpenAccounts(const std::string& address, const std::map<std::string, int64_t>& accounts) {
  Channel channel("list://" + address, OneShotOptions(5s));
  for (const auto& [name, balance] : accounts) {
    CallResult r = channel.Call("Bank.open", json::value{{"account", name}, {"balance", balance}});
    if (!r.ok()) {
      ADD_FAILURE() << "Bank.open " << name << " on " << address << ": " << r.status;
      return false;
    }
  }
  return true;
}

std::optional<Audit> AuditOf(const std::string& address) {
  CallResult r = CallOnce(address, "Bank.audit", json::object{});
  if (!r.ok() || !r.value.is_object()) return std::nullopt;
  const json::object& o = r.value.as_object();
  return Audit{.accounts = o.at("accounts").to_number<int64_t>(),
               .total = o.at("total").to_number<int64_t>(),
               .reserved = o.at("reserved").to_number<int64_t>()};
}

std::optional<Account> AccountOf(const std::string& address, const std::string& account) {
  CallResult r = CallOnce(address, "Bank.balance", json::value{{"account", account}});
  if (!r.ok() || !r.value.is_object()) return std::nullopt;
  return Account{.balance = r.value.at("balance").to_number<int64_t>(),
                 .reserved = r.value.at("reserved").to_number<int64_t>()};
}

std::optional<json::object> ParticipantStatus(Channel& participant, const std::string& txid) {
  json::value params = json::object{};
  if (!txid.empty()) params.as_object()["txid"] = txid;
  CallOptions call;
  call.idempotent = true;
  CallResult r = participant.Call("Participant.status", params, call);
  if (!r.ok() || !r.value.is_object()) return std::nullopt;
  return r.value.as_object();
}

std::optional<json::object> ParticipantStatus(const std::string& address, const std::string& txid) {
  Channel channel("list://" + address, OneShotOptions(3s));
  return ParticipantStatus(channel, txid);
}

int64_t PreparedOn(const std::string& address) {
  auto status = ParticipantStatus(address);
  return status ? status->at("prepared").to_number<int64_t>() : -1;
}

bool WaitNothingPrepared(const std::vector<std::string>& addresses, std::chrono::milliseconds timeout) {
  return PollUntil(
      [&] {
        for (const std::string& a : addresses) {
          if (PreparedOn(a) != 0) return false;
        }
        return true;
      },
      timeout);
}

CallStates CallsOf(Channel& participant, const std::string& txid) {
  CallStates calls;
  auto status = ParticipantStatus(participant, txid);
  if (!status) {
    ADD_FAILURE() << "Participant.status did not answer";
    return calls;
  }
  for (const json::value& c : status->at("calls").as_array()) {
    calls[std::string(c.at("call").as_string())] = {std::string(c.at("method").as_string()),
                                                    std::string(c.at("state").as_string())};
  }
  return calls;
}

CallStates CallsOf(const std::string& address, const std::string& txid) {
  Channel channel("list://" + address, OneShotOptions(3s));
  return CallsOf(channel, txid);
}

std::string FinalOutcome(Channel& coordinator, const std::string& txid, std::chrono::milliseconds timeout) {
  CallOptions call;
  call.idempotent = true;
  std::string outcome;
  PollUntil(
      [&] {
        CallResult r = coordinator.Call("Coordinator.status", json::value{{"txid", txid}}, call);
        if (!r.ok()) return false;
        std::string said(r.value.at("outcome").as_string());
        if (said != "committed" && said != "aborted") return false;  // pending: still running
        outcome = said;
        return true;
      },
      timeout);
  return outcome;
}

std::string FinalOutcome(const std::string& coordinator, const std::string& txid, std::chrono::milliseconds timeout) {
  Channel channel("list://" + coordinator, OneShotOptions(2s));
  return FinalOutcome(channel, txid, timeout);
}

json::value ErrorOf(const std::string& response) {
  boost::system::error_code ec;
  json::value body = json::parse(BodyOf(response), ec);
  if (ec || !body.is_object() || !body.as_object().contains("error")) return nullptr;
  return body.at("error");
}

std::string RawPost(int port, const std::string& path, const std::string& body, const std::string& extra_headers) {
  testing::RawSocket socket(port);
  if (!socket.connected()) return {};
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                        extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  socket.Send(request);
  return socket.ReadResponse(5s);
}

}  // namespace harpc::txntest
