// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A coordinator group: three `harpc coordinator --group A,B,C` processes
// (Raft), with single-node banks whose votes go to the group. Transfers go
// through list://A,B,C and follow the leader; a follower answers NOT_LEADER
// with the leader's address on the wire; SIGKILLing the leader under load
// aborts no transfer, loses no money and leaves nothing prepared.
#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/server.h"
#include "txn_support.h"

namespace harpc::txntest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kAccounts = 20;
constexpr int64_t kOpening = 1'000'000;  // no transfer of the load can overdraw: every abort is a failure's

json::value BodyJson(const std::string& response) {
  boost::system::error_code ec;
  json::value body = json::parse(BodyOf(response), ec);
  return ec ? json::value() : body;
}

// GET /status of a member: its "group" part says whether it leads.
bool Leads(int port) {
  testing::RawSocket socket(port);
  if (!socket.connected() || !socket.Send("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return false;
  json::value status = BodyJson(socket.ReadResponse(2s));
  const json::value* group = status.is_object() ? status.as_object().if_contains("group") : nullptr;
  const json::value* role = group && group->is_object() ? group->as_object().if_contains("role") : nullptr;
  return role && role->is_string() && role->as_string() == "leader";
}

// A participant of the test's own, in process: answers Participant.commit
// only once told to, and keeps what it was sent.
class FakeParticipant {
 public:
  FakeParticipant() : server_(Options()) {
    Status s = server_.AddMethod("Participant.commit", [this](const json::value& p, CallContext&) -> Result {
      std::lock_guard lock(mu_);
      if (!accept_) return Unavailable("not yet");
      commits_.push_back(p);
      return json::value{{"txid", p.at("txid")}, {"committed", true}};
    });
    if (s.ok()) s = server_.Start("127.0.0.1:0");
    EXPECT_TRUE(s.ok()) << s;
  }
  ~FakeParticipant() {
    server_.Shutdown();
    server_.Wait();
  }
  std::string address() const { return server_.address(); }
  void Accept() {
    std::lock_guard lock(mu_);
    accept_ = true;
  }
  std::vector<json::value> Commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }

 private:
  static ServerOptions Options() {
    ServerOptions o;
    o.threads = 1;
    o.handle_signals = false;
    o.shutdown_grace = std::chrono::milliseconds(0);
    return o;
  }
  Server server_;
  std::mutex mu_;
  bool accept_ = false;
  std::vector<json::value> commits_;
};

struct CoordinatorGroup {
  explicit CoordinatorGroup(int n = 3) {
    for (int i = 0; i < n; ++i) addresses.push_back("127.0.0.1:" + std::to_string(testing::FreePort()));
    std::string list;
    for (const std::string& a : addresses) list += (list.empty() ? "" : ",") + a;
    std::vector<std::string> sorted = addresses;
    std::sort(sorted.begin(), sorted.end());
    target = "list://";
    for (size_t i = 0; i < sorted.size(); ++i) target += (i ? "," : "") + sorted[i];
    for (int i = 0; i < n; ++i) {
      auto member = std::make_unique<Daemon>();
      const std::string name = "coordinator" + std::to_string(i);
      if (!member->Start({"coordinator", "--data-dir", dir.File(name), "--group", list}, dir.File(name + ".log"),
                         addresses[i])) {
        return;
      }
      members.push_back(std::move(member));
    }
  }
  ~CoordinatorGroup() {
    if (::testing::Test::HasFailure()) {
      for (size_t i = 0; i < members.size(); ++i) {
        std::fprintf(stderr, "----- coordinator%zu.log -----\n%s\n", i,
                     LogTail(dir.File("coordinator" + std::to_string(i) + ".log")).c_str());
      }
    }
  }
  bool ok() const { return members.size() == addresses.size(); }

  // Asks member i who leads: itself (its index), another (by NOT_LEADER's
  // address), or -1 when it does not know or does not answer.
  int LeaderAccordingTo(size_t i) const {
    if (!members[i]->running()) return -1;
    const std::string response = RawPost(members[i]->port(), "/rpc/Coordinator.status", R"({"txid":"probe"})");
    if (StatusOf(response) == 200) return static_cast<int>(i);
    json::value error = ErrorOf(response);
    if (StatusOf(response) != 421 || !error.is_object()) return -1;
    const json::value* data = error.as_object().if_contains("data");
    const json::value* leader = data && data->is_object() ? data->as_object().if_contains("leader") : nullptr;
    if (!leader || !leader->is_string()) return -1;
    auto it = std::find(addresses.begin(), addresses.end(), std::string(leader->as_string()));
    return it == addresses.end() ? -1 : static_cast<int>(it - addresses.begin());
  }
  // The one running member whose GET /status says it leads, or -1.
  int Leader() const {
    int leader = -1;
    for (size_t i = 0; i < members.size(); ++i) {
      if (!members[i]->running() || !Leads(members[i]->port())) continue;
      if (leader >= 0) return -1;  // two say so: a term is changing, ask again
      leader = static_cast<int>(i);
    }
    return leader;
  }
  // A raw call to whichever member leads, asked again while the answer is
  // "not leader" or none (an election under a loaded machine): the response,
  // and in `leader` the member that gave it.
  std::string CallLeader(const std::string& method, const json::value& params, int* leader) const {
    std::string response;
    PollUntil(
        [&] {
          *leader = Leader();
          if (*leader < 0) return false;
          response = RawPost(members[*leader]->port(), "/rpc/" + method, json::serialize(params));
          json::value error = ErrorOf(response);
          return StatusOf(response) != 0 && !(error.is_object() && error.at("message").as_string() == "not leader");
        },
        10s);
    return response;
  }
  int WaitForLeader(std::chrono::milliseconds timeout, int not_this = -1) const {
    int leader = -1;
    PollUntil([&] { return (leader = Leader()) >= 0 && leader != not_this; }, timeout);
    return leader != not_this ? leader : -1;
  }

  TempDir dir{"harpc-coord-group"};
  std::vector<std::string> addresses;
  std::string target;  // list://A,B,C, sorted, as begin names it
  std::vector<std::unique_ptr<Daemon>> members;
};

struct Banks {
  Banks(const TempDir& dir, const std::string& coordinator) {
    for (int i = 0; i < 2; ++i) {
      auto bank = std::make_unique<Daemon>();
      const std::string name = "bank" + std::to_string(i);
      if (!bank->Start({"serve", "--service", "bank", "--threads", "1", "--name", name, "--db", dir.File(name + ".db"),
                        "--coordinator", coordinator},
                       dir.File(name + ".log"))) {
        return;
      }
      std::map<std::string, int64_t> accounts;
      for (int a = 0; a < kAccounts; ++a)
        accounts[std::string(1, static_cast<char>('a' + i)) + std::to_string(a)] = kOpening;
      if (!OpenAccounts(bank->address(), accounts)) return;
      banks.push_back(std::move(bank));
    }
  }
  bool ok() const { return banks.size() == 2; }
  std::vector<std::string> Addresses() const { return {banks[0]->address(), banks[1]->address()}; }
  std::vector<std::unique_ptr<Daemon>> banks;
};

std::vector<std::string> TransferArgs(const std::string& coordinator, const Banks& b) {
  return {"transfer",
          "--coordinator",
          coordinator,
          "--from",
          "list://" + b.banks[0]->address(),
          "--from-account",
          "a",
          "--to",
          "list://" + b.banks[1]->address(),
          "--to-account",
          "b",
          "--accounts",
          std::to_string(kAccounts),
          "--amount",
          "1"};
}

TEST(CoordinatorGroup, AFollowerAnswersNotLeaderWithTheLeadersAddressAndBeginNamesTheGroup) {
  CoordinatorGroup group;
  ASSERT_TRUE(group.ok());
  const int leader = group.WaitForLeader(10s);
  ASSERT_GE(leader, 0) << "no leader elected within 10 s";

  for (size_t i = 0; i < group.members.size(); ++i) {
    const std::string response = RawPost(group.members[i]->port(), "/rpc/Coordinator.begin", R"({"timeout_ms":1000})");
    if (static_cast<int>(i) == leader) {
      ASSERT_EQ(StatusOf(response), 200) << response;
      boost::system::error_code ec;
      json::value begun = json::parse(BodyOf(response), ec);
      ASSERT_FALSE(ec) << response;
      // Participants register their votes with the group, and ask it.
      EXPECT_EQ(begun.at("coordinator").as_string(), group.target) << response;
      continue;
    }
    EXPECT_EQ(StatusOf(response), 421) << response;
    json::value error = ErrorOf(response);
    ASSERT_TRUE(error.is_object()) << response;
    EXPECT_EQ(error.at("code").to_number<int64_t>(), -32010) << response;
    EXPECT_EQ(error.at("data").at("leader").as_string(), group.addresses[leader]) << response;
  }
}

// The coordinator's own part of a takeover, with raw calls to the leader and
// a participant of the test's: a decision whose phase two could not reach
// its participant, and a transaction begun with its votes registered but not
// yet decided, both outlive a SIGKILL of the leader — the new leader pushes
// the commit, and commits the other.
TEST(CoordinatorGroup, ANewLeaderResumesPhaseTwoAndDecidesWhatTheOldOneBegan) {
  CoordinatorGroup group;
  ASSERT_TRUE(group.ok());
  ASSERT_GE(group.WaitForLeader(10s), 0) << "no leader within 10 s";
  FakeParticipant participant;
  int leader = -1;
  // Two transactions, one vote each (secrets of the participant's making).
  struct Begun {
    std::string txid, key;
  };
  std::vector<Begun> begun;
  for (int i = 0; i < 2; ++i) {
    const std::string response = group.CallLeader("Coordinator.begin", json::value{{"timeout_ms", 20000}}, &leader);
    ASSERT_EQ(StatusOf(response), 200) << response;
    json::value b = BodyJson(response);
    begun.push_back({std::string(b.at("txid").as_string()), std::string(b.at("key").as_string())});
    const std::string vote = group.CallLeader("Coordinator.register",
                                              json::value{{"txid", begun[i].txid},
                                                          {"call", "0"},
                                                          {"participant", "p"},
                                                          {"address", participant.address()},
                                                          {"secret", "s" + std::to_string(i)}},
                                              &leader);
    ASSERT_EQ(StatusOf(vote), 200) << vote;
  }
  const json::value votes = json::array{json::object{{"call", "0"}, {"participant", "p"}}};
  // The first is decided; its participant does not take phase two yet, so
  // the answer comes at the caller's deadline, committed but not applied.
  const std::string decided = group.CallLeader(
      "Coordinator.commit", json::value{{"txid", begun[0].txid}, {"key", begun[0].key}, {"votes", votes}}, &leader);
  ASSERT_EQ(StatusOf(decided), 200) << decided;
  EXPECT_EQ(BodyJson(decided).at("outcome").as_string(), "committed") << decided;
  EXPECT_FALSE(BodyJson(decided).at("applied").as_bool()) << decided;

  group.members[leader]->Kill();
  ASSERT_GE(group.WaitForLeader(10s, leader), 0) << "no new leader within 10 s of the SIGKILL";

  // The second transaction, begun and voted under the old leader, commits under the new one.
  participant.Accept();
  const std::string second = group.CallLeader(
      "Coordinator.commit", json::value{{"txid", begun[1].txid}, {"key", begun[1].key}, {"votes", votes}}, &leader);
  ASSERT_EQ(StatusOf(second), 200) << second;
  EXPECT_EQ(BodyJson(second).at("outcome").as_string(), "committed") << second;
  // And the first one's phase two reaches its participant from the new leader.
  ASSERT_TRUE(PollUntil([&] { return participant.Commits().size() >= 2; }, 10s))
      << participant.Commits().size() << " commits reached the participant";
  std::set<std::string> committed;
  for (const json::value& c : participant.Commits()) {
    committed.insert(std::string(c.at("txid").as_string()));
    const std::string txid(c.at("txid").as_string());
    const std::string expected = txid == begun[0].txid ? "s0" : "s1";
    EXPECT_EQ(c.at("calls").at(0).at("secret").as_string(), expected) << "phase two presents the vote's secret";
  }
  EXPECT_EQ(committed, (std::set<std::string>{begun[0].txid, begun[1].txid}));
  for (const Begun& b : begun) {
    ASSERT_TRUE(PollUntil(
        [&] {
          json::value status = BodyJson(group.CallLeader("Coordinator.status", json::value{{"txid", b.txid}}, &leader));
          return status.is_object() && status.at("outcome").as_string() == "committed" &&
                 status.at("applied").as_bool();
        },
        10s))
        << b.txid << " is not committed and applied according to the new leader";
  }
}

enum class Fault { kSigkill, kSigstop };

// Transfers through the group by `harpc transfer` while its leader is
// SIGKILLed (and later restarted) or SIGSTOPped (and later resumed): no
// transfer aborts and none has an unknown outcome, money is conserved,
// nothing stays prepared, and the hit member comes back as a follower.
void TransfersThroughALeaderFault(Fault fault) {
  const char* what = fault == Fault::kSigkill ? "SIGKILL" : "SIGSTOP";
  CoordinatorGroup group;
  ASSERT_TRUE(group.ok());
  ASSERT_GE(group.WaitForLeader(10s), 0) << "no leader elected within 10 s";
  Banks b(group.dir, group.target);
  ASSERT_TRUE(b.ok());

  // One transfer through the group.
  std::vector<std::string> one = TransferArgs(group.target, b);
  one[6] = "a0";                                  // --from-account
  one[10] = "b0";                                 // --to-account
  one.erase(one.begin() + 11, one.begin() + 13);  // no --accounts
  CliRun run = testing::RunHarpc(one);
  ASSERT_EQ(run.exit_code, 0) << run.Stdout() << run.err;
  EXPECT_NE(run.Stdout().find("\"committed\""), std::string::npos) << run.Stdout();

  // A load of transfers; the leader is hit in its middle. Each transfer may
  // take 10 s: a frozen leader answers nothing until the others elect, and
  // on a loaded machine elections and catch-up take seconds.
  std::vector<std::string> load = TransferArgs(group.target, b);
  for (const char* extra : {"--duration", "8", "--concurrency", "8", "--timeout-ms", "10000", "--json"}) {
    load.emplace_back(extra);
  }
  auto running = std::async(std::launch::async, [&] { return testing::RunHarpc(load, 60s); });
  auto committed_on = [&](int bank) {
    auto status = ParticipantStatus(b.banks[bank]->address());
    return status ? status->at("committed").to_number<int64_t>() : 0;
  };
  // The load commits through the first leader (a loaded machine commits only tens per second).
  ASSERT_TRUE(PollUntil([&] { return committed_on(0) > 50; }, 10s)) << "the load does not commit";
  // The leader now (an election on a loaded machine may have moved it since the start).
  const int first_leader = group.WaitForLeader(10s);
  ASSERT_GE(first_leader, 0);
  const auto hit_at = Clock::now();
  if (fault == Fault::kSigkill) {
    group.members[first_leader]->Kill();
  } else {
    ASSERT_TRUE(group.members[first_leader]->Stop());
  }
  // (A stopped member still counts as running: Leader() asks the others only.)
  int second_leader = -1;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (size_t i = 0; i < group.members.size(); ++i) {
          if (static_cast<int>(i) != first_leader && Leads(group.members[i]->port()))
            second_leader = static_cast<int>(i);
        }
        return second_leader >= 0;
      },
      10s))
      << "no new leader after the " << what;
  const auto elected_in = Since(hit_at);
  const int64_t before = committed_on(0);
  EXPECT_TRUE(PollUntil([&] { return committed_on(0) > before + 50; }, 10s)) << "no commits under the new leader";
  if (fault == Fault::kSigstop) {
    ASSERT_TRUE(group.members[first_leader]->Resume());
  }

  CliRun report = running.get();
  ASSERT_EQ(report.exit_code, 0) << report.Stdout() << report.err;
  boost::system::error_code ec;
  json::value summary = json::parse(report.out.empty() ? "" : report.out.front(), ec);
  ASSERT_FALSE(ec) << report.Stdout() << report.err;
  EXPECT_GT(summary.at("committed").to_number<int64_t>(), 0) << report.Stdout();
  EXPECT_EQ(summary.at("aborted").to_number<int64_t>(), 0)
      << "aborted because of the " << what << ": " << report.Stdout();
  EXPECT_EQ(summary.at("errors").to_number<int64_t>(), 0) << "outcomes unknown: " << report.Stdout();
  std::printf("leader %s: another leader found by the test in %lld ms; %s\n", what,
              static_cast<long long>(elected_in.count()), report.Stdout().c_str());

  // Nothing in doubt, money conserved, every transfer on both sides.
  ASSERT_TRUE(WaitNothingPrepared(b.Addresses(), 20s));
  auto a = AuditOf(b.banks[0]->address()), c = AuditOf(b.banks[1]->address());
  ASSERT_TRUE(a && c);
  EXPECT_EQ(a->total + c->total, 2 * kAccounts * kOpening);
  EXPECT_EQ(a->reserved + c->reserved, 0);
  EXPECT_EQ(kAccounts * kOpening - a->total, c->total - kAccounts * kOpening);

  // The member hit comes back (from its data dir, or thawed) as a follower
  // of the new leader: it no longer leads.
  if (fault == Fault::kSigkill) {
    ASSERT_TRUE(group.members[first_leader]->Restart());
  }
  EXPECT_TRUE(PollUntil([&] { return group.LeaderAccordingTo(first_leader) == second_leader; }, 10s));
}

TEST(CoordinatorGroup, TransfersThroughTheGroupSurviveALeaderSigkillWithoutAnAbort) {
  TransfersThroughALeaderFault(Fault::kSigkill);
}

TEST(CoordinatorGroup, TransfersThroughTheGroupSurviveAFrozenLeaderWithoutAnAbort) {
  TransfersThroughALeaderFault(Fault::kSigstop);
}

TEST(CoordinatorGroup, BadGroupListsFailWithOneClearLine) {
  TempDir dir("harpc-coord-group-bad");
  const std::string self = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string other = "127.0.0.1:" + std::to_string(testing::FreePort());
  struct Case {
    std::string group, why;
  };
  const std::vector<Case> cases = {
      {other + ",127.0.0.1:1", "--listen is not a member"},
      {self + ",localhost:1", "a name, not a numeric address"},
      {self + "," + other + "," + other, "a member listed twice"},
      {self + ",," + other, "an empty member"},
      {self + ",127.0.0.1:99999", "a port out of range"},
  };
  for (const Case& c : cases) {
    CliRun run = testing::RunHarpc({"coordinator", "--listen", self, "--data-dir", dir.File("c"), "--group", c.group});
    EXPECT_EQ(run.exit_code, 2) << c.why << ": " << run.err;
    EXPECT_NE(run.err.find("--group"), std::string::npos) << c.why << ": " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << c.why << ": " << run.err;
  }
}

}  // namespace
}  // namespace harpc::txntest
