// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the distributed-transaction integration tests share: a coordinator and
// bank servers as real processes (killed with SIGKILL, stopped with SIGSTOP,
// restarted on the same port with the same data), blocking calls to them, and
// the checks every test ends with (nothing left prepared, money conserved).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "harpc/channel.h"
#include "harpc/transaction.h"
#include "support/test_support.h"

namespace harpc::txntest {

using testing::BodyOf;
using testing::PollUntil;
using testing::Since;
using testing::StatusOf;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// One daemon (`harpc coordinator` or `harpc serve`) that can be killed and
// started again where it was: same port, same data, stderr appended to `log`.
// Its Subprocess SIGKILLs and reaps it when destroyed.
//
// PR_SET_PDEATHSIG ties a child to the thread that forked it: start and
// restart daemons from the test's own thread, never from a helper thread
// that ends before the test does.
class Daemon {
 public:
  Daemon() = default;
  // `args` after the binary; "--listen LISTEN" is added first (a free port
  // by default). On failure (ADD_FAILURE) address() stays empty.
  bool Start(std::vector<std::string> args, std::string log, const std::string& listen = "127.0.0.1:0");
  // SIGKILL and reap.
  void Kill();
  // Starts it again on its port with the same arguments (retrying while the
  // port is still taken).
  bool Restart();
  // SIGSTOP / SIGCONT, and wait until every thread is stopped / running.
  bool Stop();
  bool Resume();

  bool running() const { return process_.running(); }
  const std::string& address() const { return address_; }
  const std::string& log() const { return log_; }
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  int starts() const { return starts_; }

 private:
  bool Launch(const std::string& listen);
  std::vector<std::string> args_;
  std::string log_, address_;
  int port_ = 0, starts_ = 0;
  Subprocess process_;
};

// A coordinator and `banks` bank servers (one event-loop thread each), with
// their data and logs in a fresh temporary directory. When the test failed,
// the destructor prints the end of every log before removing the directory.
struct Cluster {
  explicit Cluster(int banks = 2, std::vector<std::string> bank_extra = {});
  ~Cluster();
  bool ok() const;
  std::string BankTarget(int i) const { return "list://" + banks[i]->address(); }
  // Every process's log, for failure messages (the last `bytes` of each).
  std::string Logs(size_t bytes = 4000) const;

  TempDir dir{"harpc-txn"};
  std::unique_ptr<Daemon> coordinator;
  std::vector<std::unique_ptr<Daemon>> banks;
};

// The last `bytes` of a daemon's log ("..." first when cut).
std::string LogTail(const std::string& path, size_t bytes = 4000);

// A blocking call to one address with a channel of its own (idempotent
// calls retried, 3 s deadline unless given).
CallResult CallOnce(const std::string& address, const std::string& method, const boost::json::value& params,
                    std::chrono::milliseconds timeout = std::chrono::seconds(3), bool idempotent = true);

// Channel options for a client of a cluster whose processes come and go:
// fast health checks, a deadline of `timeout`.
ChannelOptions ClientOptions(std::chrono::milliseconds timeout = std::chrono::seconds(2));
// The same without heartbeats: for channels that make a few calls and go.
ChannelOptions OneShotOptions(std::chrono::milliseconds timeout = std::chrono::seconds(3));

// Bank.open on `address` for every (account, balance); false (ADD_FAILURE) on error.
bool OpenAccounts(const std::string& address, const std::map<std::string, int64_t>& accounts);

struct Audit {
  int64_t accounts = -1, total = -1, reserved = -1;
};
std::optional<Audit> AuditOf(const std::string& address);

struct Account {
  int64_t balance = -1, reserved = -1;
};
std::optional<Account> AccountOf(const std::string& address, const std::string& account);

// Participant.status (counts), and with a txid the calls of that transaction.
std::optional<boost::json::object> ParticipantStatus(const std::string& address, const std::string& txid = "");
std::optional<boost::json::object> ParticipantStatus(Channel& participant, const std::string& txid);
// Participant.status "prepared" (-1 when the bank does not answer).
int64_t PreparedOn(const std::string& address);
// Polls every bank until each reports prepared == 0; false after `timeout`.
bool WaitNothingPrepared(const std::vector<std::string>& addresses, std::chrono::milliseconds timeout);

// The calls of `txid` on one participant: call number -> (method, state).
// (The Channel forms reuse the caller's channel: for many questions.)
using CallStates = std::map<std::string, std::pair<std::string, std::string>>;
CallStates CallsOf(const std::string& address, const std::string& txid);
CallStates CallsOf(Channel& participant, const std::string& txid);

// The coordinator's outcome: "committed" or "aborted", polling while it says
// "pending" or does not answer; "" after `timeout`.
std::string FinalOutcome(const std::string& coordinator, const std::string& txid,
                         std::chrono::milliseconds timeout = std::chrono::seconds(15));
std::string FinalOutcome(Channel& coordinator, const std::string& txid,
                         std::chrono::milliseconds timeout = std::chrono::seconds(15));

// `harpc ARGS...` runs (testing::RunHarpc) report in the shared CliRun.
using testing::CliRun;

// The JSON-RPC error {"code","message"[,"data"]} of a raw response, or null.
boost::json::value ErrorOf(const std::string& response);

// A raw HTTP/1.1 POST of `body` (as is) to `path`; the whole response.
std::string RawPost(int port, const std::string& path, const std::string& body, const std::string& extra_headers = "");

}  // namespace harpc::txntest
