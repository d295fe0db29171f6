// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Distributed transactions meet bad input: unknown transaction ids, malformed
// decisions and bodies, a "participant" that does not vote, one that answers
// too late, and the `harpc transfer` command's exit codes. Real processes.
#include <algorithm>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "txn_support.h"

namespace harpc::txntest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The "message" of an {"error":{...}} body, or "".
std::string ErrorMessage(const std::string& response) {
  const json::value error = ErrorOf(response);
  return error.is_object() ? std::string(error.at("message").as_string()) : "";
}

std::string Outcome(const CallResult& r) {
  return r.ok() && r.value.is_object() ? std::string(r.value.at("outcome").as_string())
                                       : "(" + r.status.ToString() + ")";
}

TEST(TxnBadInput, UnknownTransactionIdsArePresumedAborted) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  const std::string coordinator = cluster.coordinator->address();
  EXPECT_EQ(Outcome(CallOnce(coordinator, "Coordinator.status", json::value{{"txid", "never-begun"}})), "aborted");
  CallResult commit = CallOnce(coordinator, "Coordinator.commit",
                               json::value{{"txid", "never-begun"}, {"participants", json::array{}}});
  EXPECT_EQ(Outcome(commit), "aborted");
  EXPECT_NE(commit.value.at("reason").as_string().find("unknown transaction"), json::string::npos)
      << json::serialize(commit.value);
  EXPECT_EQ(Outcome(CallOnce(coordinator, "Coordinator.abort", json::value{{"txid", "never-begun"}})), "aborted");
  // Still aborted when asked again: a commit of an unknown id cannot turn it into a commit.
  EXPECT_EQ(Outcome(CallOnce(coordinator, "Coordinator.status", json::value{{"txid", "never-begun"}})), "aborted");
}

TEST(TxnBadInput, ParticipantDecisionsOnUnknownTransactions) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  const std::string bank = cluster.banks[0]->address();
  ASSERT_TRUE(OpenAccounts(bank, {{"alice", 100}}));
  auto status = ParticipantStatus(bank);
  ASSERT_TRUE(status.has_value());
  const std::string id(status->at("participant").as_string());

  const json::array signed_call{json::object{{"call", "0"}, {"secret", std::string(32, 'f')}}};
  // Commit of calls never prepared here: an error, and nothing changes.
  CallResult commit = CallOnce(bank, "Participant.commit",
                               json::value{{"txid", "unknown-1"}, {"participant", id}, {"calls", signed_call}});
  EXPECT_EQ(commit.status.code(), StatusCode::kFailedPrecondition) << commit.status;
  EXPECT_NE(commit.status.message().find("never prepared"), std::string::npos) << commit.status;
  // Meant for another participant, or not naming one, or without calls.
  CallResult other =
      CallOnce(bank, "Participant.commit",
               json::value{{"txid", "unknown-1"}, {"participant", "someone-else"}, {"calls", signed_call}});
  EXPECT_EQ(other.status.code(), StatusCode::kFailedPrecondition) << other.status;
  CallResult anonymous =
      CallOnce(bank, "Participant.commit", json::value{{"txid", "unknown-1"}, {"calls", signed_call}});
  EXPECT_EQ(anonymous.status.code(), StatusCode::kInvalidArgument) << anonymous.status;
  CallResult no_calls = CallOnce(bank, "Participant.commit", json::value{{"txid", "unknown-1"}, {"participant", id}});
  EXPECT_EQ(no_calls.status.code(), StatusCode::kInvalidArgument) << no_calls.status;
  CallResult bad_calls =
      CallOnce(bank, "Participant.commit",
               json::value{{"txid", "unknown-1"}, {"participant", id}, {"calls", json::array{0, 1}}});
  EXPECT_EQ(bad_calls.status.code(), StatusCode::kInvalidArgument) << bad_calls.status;
  CallResult no_txid = CallOnce(bank, "Participant.abort", json::object{});
  EXPECT_EQ(no_txid.status.code(), StatusCode::kInvalidArgument) << no_txid.status;

  // Abort of an unknown transaction by a stranger: nothing to release, no
  // tombstone left. A prepare arriving after it is still refused, by the
  // coordinator, which never began that transaction.
  CallResult abort = CallOnce(bank, "Participant.abort",
                              json::value{{"txid", "unknown-2"}, {"participant", id}, {"calls", signed_call}});
  ASSERT_TRUE(abort.ok()) << abort.status;
  CallResult late =
      CallOnce(bank, "Bank.debit",
               json::value{{"txid", "unknown-2"}, {"call", "0"}, {"params", {{"account", "alice"}, {"amount", 10}}}});
  EXPECT_EQ(late.status.code(), StatusCode::kAborted) << late.status;
  EXPECT_NE(late.status.message().find("refused the vote"), std::string::npos) << late.status;
  // A prepare that names no transaction is no prepare.
  CallResult bare = CallOnce(bank, "Bank.debit", json::value{{"account", "alice"}, {"amount", 10}});
  EXPECT_EQ(bare.status.code(), StatusCode::kInvalidArgument) << bare.status;

  auto alice = AccountOf(bank, "alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->balance, 100);
  EXPECT_EQ(alice->reserved, 0);
  status = ParticipantStatus(bank);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->at("prepared").to_number<int64_t>(), 0);
  EXPECT_EQ(status->at("committed").to_number<int64_t>(), 0);
}

// The attacks of issue 10 on real processes: money minted by a credit-only
// prepare and a forged Participant.commit; a transaction decided by someone
// who learnt its id (an empty vote list once printed "committed" with
// nothing moved); a prepare naming a coordinator of the caller's choosing.
TEST(TxnBadInput, ForgedDecisionsAndForeignCoordinatorsAreRefused) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  const std::string bank = cluster.banks[0]->address(), coordinator = cluster.coordinator->address();
  ASSERT_TRUE(OpenAccounts(bank, {{"bob", 0}}));
  auto status = ParticipantStatus(bank);
  ASSERT_TRUE(status.has_value());
  const std::string id(status->at("participant").as_string());

  CallResult begun = CallOnce(coordinator, "Coordinator.begin", json::object{});
  ASSERT_TRUE(begun.ok()) << begun.status;
  const std::string txid(begun.value.at("txid").as_string()), key(begun.value.at("key").as_string());
  EXPECT_EQ(txid.size(), 32u);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, txid);
  const json::value credit{
      {"txid", txid}, {"call", "0"}, {"coordinator", coordinator}, {"params", {{"account", "bob"}, {"amount", 1000}}}};
  CallResult prepared = CallOnce(bank, "Bank.credit", credit);
  ASSERT_TRUE(prepared.ok()) << prepared.status;

  // Minted money: phase two from the client, with any secret it can make up.
  for (const std::string& secret : {std::string(32, '0'), txid, key, id, std::string()}) {
    CallResult commit = CallOnce(bank, "Participant.commit",
                                 json::value{{"txid", txid},
                                             {"participant", id},
                                             {"calls", json::array{json::object{{"call", "0"}, {"secret", secret}}}}});
    EXPECT_EQ(commit.status.code(), StatusCode::kPermissionDenied) << commit.status;
  }
  const std::string forged = R"({"txid":")" + txid + R"(","participant":")" + id +
                             R"(","calls":[{"call":"0","secret":"00000000000000000000000000000000"}]})";
  const std::string response = RawPost(cluster.banks[0]->port(), "/rpc/Participant.commit", forged);
  EXPECT_EQ(StatusOf(response), 403) << response;
  EXPECT_NE(ErrorMessage(response).find("secret"), std::string::npos) << response;
  auto bob = AccountOf(bank, "bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->balance, 0) << "no money minted";

  // A vote whose phase two would need a name lookup is refused.
  CallResult named = CallOnce(coordinator, "Coordinator.register",
                              json::value{{"txid", txid},
                                          {"call", "9"},
                                          {"participant", "p"},
                                          {"address", "localhost:80"},
                                          {"secret", std::string(32, 'e')}});
  EXPECT_EQ(named.status.code(), StatusCode::kInvalidArgument) << named.status;

  // Decided by someone without the key: refused; by the key holder with a
  // list that leaves the registered credit out: aborted, the credit dropped.
  for (const char* method : {"Coordinator.commit", "Coordinator.abort"}) {
    CallResult r = CallOnce(coordinator, method, json::value{{"txid", txid}, {"votes", json::array{}}});
    EXPECT_EQ(r.status.code(), StatusCode::kPermissionDenied) << method << ": " << r.status;
  }
  CallResult empty =
      CallOnce(coordinator, "Coordinator.commit", json::value{{"txid", txid}, {"key", key}, {"votes", json::array{}}});
  ASSERT_TRUE(empty.ok()) << empty.status;
  EXPECT_EQ(empty.value.at("outcome"), "aborted") << empty.value;
  EXPECT_NE(empty.value.at("reason").as_string().find("does not list it"), json::string::npos) << empty.value;
  ASSERT_TRUE(WaitNothingPrepared({bank}, 10s));
  EXPECT_EQ(CallsOf(bank, txid).at("0").second, "aborted");

  // `harpc serve --coordinator C` takes votes for C only: another address is
  // refused before the credit is prepared.
  CallResult other_begun = CallOnce(coordinator, "Coordinator.begin", json::object{});
  ASSERT_TRUE(other_begun.ok());
  json::value foreign = credit;
  foreign.as_object()["txid"] = other_begun.value.at("txid");
  foreign.as_object()["coordinator"] = "127.0.0.1:" + std::to_string(testing::FreePort());
  CallResult refused = CallOnce(bank, "Bank.credit", foreign);
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied) << refused.status;
  EXPECT_EQ(PreparedOn(bank), 0);
  bob = AccountOf(bank, "bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->balance, 0);
}

TEST(TxnBadInput, MalformedCommitRequestsAre400AndOversizedBodies413) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  const int port = cluster.coordinator->port();
  struct Case {
    std::string body, why;
  };
  const std::vector<Case> cases = {
      {R"({"txid":"t1","votes":"bank"})", "votes not an array"},
      {R"({"txid":"t1","votes":[{"call":"0"}]})", "no participant"},
      {R"({"txid":"t1","votes":[{"participant":"p"}]})", "no call"},
      {R"({"txid":"t1","votes":[1]})", "a vote that is not an object"},
      {R"({"txid":"t1","votes":[{"call":"","participant":"p"}]})", "empty call"},
      {R"({"txid":"t1","votes":[{"call":0,"participant":"p"}]})", "call not a string"},
      {R"({"txid":"t1","votes":[{"call":"0","participant":"p"},{"call":"0","participant":"q"}]})", "one call twice"},
      {R"({"votes":[]})", "no txid"},
      {R"({"txid":7,"votes":[]})", "txid not a string"},
      {R"({"txid":"t1","votes":[)", "truncated JSON"},
      {R"({txid: t1})", "not JSON"},
      {"\"t1\"", "a string, not an object"},
      {"", "empty body"},
  };
  for (const Case& c : cases) {
    const std::string response = RawPost(port, "/rpc/Coordinator.commit", c.body);
    EXPECT_EQ(StatusOf(response), 400) << c.why << ": " << response;
    EXPECT_FALSE(ErrorMessage(response).empty()) << c.why << ": " << response;
  }
  // The coordinator is none the worse for it.
  EXPECT_EQ(Outcome(CallOnce(cluster.coordinator->address(), "Coordinator.status", json::value{{"txid", "t1"}})),
            "aborted");

  // Oversized: the declared length alone gets a 413 (4 MiB by default).
  testing::RawSocket socket(port);
  ASSERT_TRUE(socket.connected());
  ASSERT_TRUE(
      socket.Send("POST /rpc/Coordinator.commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 10000000\r\n\r\n{\"txid\":\""));
  EXPECT_EQ(StatusOf(socket.ReadResponse(5s)), 413);
  // And a whole body over a bank's configured limit.
  Cluster small(1, {"--max-body-bytes", "1024"});
  ASSERT_TRUE(small.ok());
  const std::string big =
      R"({"txid":"t2","call":"0","params":{"account":")" + std::string(4000, 'x') + R"(","amount":1}})";
  EXPECT_EQ(StatusOf(RawPost(small.banks[0]->port(), "/rpc/Bank.debit", big)), 413);
  EXPECT_EQ(PreparedOn(small.banks[0]->address()), 0);
}

TEST(TxnBadInput, ACallToAMethodThatDoesNotVoteAbortsTheTransaction) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  Daemon echo;
  ASSERT_TRUE(echo.Start({"serve", "--threads", "1"}, cluster.dir.File("echo.log")));
  const std::string bank = cluster.banks[0]->address();
  ASSERT_TRUE(OpenAccounts(bank, {{"alice", 100}}));
  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(3s));
  Channel bank_channel("list://" + bank, ClientOptions(3s)),
      echo_channel("list://" + echo.address(), ClientOptions(3s));

  {
    Transaction txn(coordinator);
    ASSERT_TRUE(txn.Begin().ok());
    CallResult debit = txn.Call(bank_channel, "Bank.debit", json::value{{"account", "alice"}, {"amount", 60}});
    ASSERT_TRUE(debit.ok()) << debit.status;
    CallResult echoed = txn.Call(echo_channel, "Echo.echo", json::value{{"hello", "2pc"}});
    EXPECT_FALSE(echoed.ok()) << "an echo is no vote";
    EXPECT_NE(echoed.status.message().find("not a transactional method"), std::string::npos) << echoed.status;
    TxnOutcome outcome = txn.Commit();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_FALSE(outcome.committed);
    EXPECT_NE(outcome.reason.find("Echo.echo"), std::string::npos) << outcome.reason;
    EXPECT_NE(outcome.reason.find("not a transactional method"), std::string::npos) << outcome.reason;
    EXPECT_EQ(FinalOutcome(cluster.coordinator->address(), txn.id()), "aborted");
  }
  {
    // A plain method of a participant does not vote either.
    Transaction txn(coordinator);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(txn.Call(bank_channel, "Bank.debit", json::value{{"account", "alice"}, {"amount", 30}}).ok());
    CallResult balance = txn.Call(bank_channel, "Bank.balance", json::value{{"account", "alice"}});
    EXPECT_FALSE(balance.ok());
    TxnOutcome outcome = txn.Commit();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_FALSE(outcome.committed);
    EXPECT_NE(outcome.reason.find("Bank.balance"), std::string::npos) << outcome.reason;
  }
  // The debits were held and are released: nothing prepared, nothing moved.
  ASSERT_TRUE(WaitNothingPrepared({bank}, 20s)) << "prepared: " << PreparedOn(bank);
  auto alice = AccountOf(bank, "alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->balance, 100);
  EXPECT_EQ(alice->reserved, 0);
  // The echo server saw the abort it cannot act on and still serves.
  EXPECT_TRUE(CallOnce(echo.address(), "Echo.echo", json::value{{"still", "here"}}).ok());
}

TEST(TxnBadInput, NonPositiveAmountsAndDuplicateAccountsAreRefused) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok());
  const std::string bank = cluster.banks[0]->address();
  ASSERT_TRUE(OpenAccounts(bank, {{"alice", 100}, {"bob", 0}}));

  CallResult again = CallOnce(bank, "Bank.open", json::value{{"account", "alice"}, {"balance", 5}}, 3s, false);
  EXPECT_EQ(again.status.code(), StatusCode::kAlreadyExists) << again.status;
  EXPECT_EQ(StatusOf(RawPost(cluster.banks[0]->port(), "/rpc/Bank.open", R"({"account":"bob","balance":1})")), 409);
  for (const json::value& params :
       {json::value{{"account", "carol"}, {"balance", -1}}, json::value{{"account", ""}, {"balance", 1}},
        json::value{{"account", "carol"}, {"balance", "10"}}, json::value{{"account", "carol"}, {"balance", 1.5}},
        json::value{{"balance", 1}}}) {
    CallResult r = CallOnce(bank, "Bank.open", params, 3s, false);
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << json::serialize(params) << ": " << r.status;
  }
  for (int64_t amount : {0, -5}) {
    CallResult deposit =
        CallOnce(bank, "Bank.deposit", json::value{{"account", "alice"}, {"amount", amount}}, 3s, false);
    EXPECT_EQ(deposit.status.code(), StatusCode::kInvalidArgument) << amount << ": " << deposit.status;
  }
  EXPECT_EQ(CallOnce(bank, "Bank.balance", json::value{{"account", "nobody"}}).status.code(), StatusCode::kNotFound);

  // In a transaction, a non-positive amount is a "no" vote: the transfer aborts.
  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(3s));
  Channel bank_channel("list://" + bank, ClientOptions(3s));
  for (int64_t amount : {0, -5}) {
    Transaction txn(coordinator);
    ASSERT_TRUE(txn.Begin().ok());
    CallResult debit = txn.Call(bank_channel, "Bank.debit", json::value{{"account", "alice"}, {"amount", amount}});
    EXPECT_EQ(debit.status.code(), StatusCode::kInvalidArgument) << amount << ": " << debit.status;
    CallResult credit = txn.Call(bank_channel, "Bank.credit", json::value{{"account", "bob"}, {"amount", amount}});
    EXPECT_EQ(credit.status.code(), StatusCode::kInvalidArgument) << amount << ": " << credit.status;
    TxnOutcome outcome = txn.Commit();
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_FALSE(outcome.committed) << amount;
  }
  auto alice = AccountOf(bank, "alice");
  auto bob = AccountOf(bank, "bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->balance, 100);
  EXPECT_EQ(bob->balance, 0);
  EXPECT_EQ(PreparedOn(bank), 0);
}

TEST(TxnBadInput, TransferCommandExitCodes) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE(OpenAccounts(cluster.banks[0]->address(), {{"alice", 100}}));
  ASSERT_TRUE(OpenAccounts(cluster.banks[1]->address(), {{"bob", 0}}));
  auto transfer = [&](const std::string& coordinator, const std::string& amount) {
    return testing::RunHarpc({"transfer", "--coordinator", coordinator, "--from", cluster.BankTarget(0),
                              "--from-account", "alice", "--to", cluster.BankTarget(1), "--to-account", "bob",
                              "--amount", amount});
  };
  const std::string coordinator = cluster.coordinator->address();

  CliRun ok = transfer(coordinator, "40");
  ASSERT_EQ(ok.exit_code, 0) << ok.Stdout() << ok.err;
  json::value line = json::parse(ok.Stdout());
  EXPECT_EQ(line.at("outcome").as_string(), "committed");
  EXPECT_FALSE(line.at("txid").as_string().empty());
  EXPECT_EQ(FinalOutcome(coordinator, std::string(line.at("txid").as_string())), "committed");

  CliRun poor = transfer(coordinator, "1000");
  ASSERT_EQ(poor.exit_code, 3) << poor.Stdout() << poor.err;
  line = json::parse(poor.Stdout());
  EXPECT_EQ(line.at("outcome").as_string(), "aborted");
  EXPECT_NE(line.at("reason").as_string().find("insufficient funds"), json::string::npos) << poor.Stdout();

  for (const std::string amount : {"0", "-5", "ten"}) {
    CliRun bad = transfer(coordinator, amount);
    EXPECT_NE(bad.exit_code, 0) << amount;
    EXPECT_NE(bad.exit_code, 3) << amount << ": a usage error is no abort";
    EXPECT_TRUE(bad.Stdout().empty()) << bad.Stdout();
  }

  // Nobody at the coordinator's address: an error (not an abort), said once on stderr.
  CliRun nobody = transfer("127.0.0.1:" + std::to_string(testing::FreePort()), "10");
  EXPECT_NE(nobody.exit_code, 0) << nobody.Stdout() << nobody.err;
  EXPECT_NE(nobody.exit_code, 3) << nobody.Stdout() << nobody.err;
  EXPECT_TRUE(nobody.exit_code.has_value()) << "still running";
  EXPECT_TRUE(nobody.Stdout().empty()) << nobody.Stdout();
  ASSERT_FALSE(nobody.err.empty());
  EXPECT_EQ(std::count(nobody.err.begin(), nobody.err.end(), '\n'), 1) << nobody.err;
  EXPECT_NE(nobody.err.find("coordinator"), std::string::npos) << nobody.err;

  auto alice = AccountOf(cluster.banks[0]->address(), "alice");
  auto bob = AccountOf(cluster.banks[1]->address(), "bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->balance, 60);
  EXPECT_EQ(bob->balance, 40);
}

TEST(TxnBadInput, AParticipantThatAnswersAfterTheTimeoutIsAborted) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  const std::string bank0 = cluster.banks[0]->address(), bank1 = cluster.banks[1]->address();
  ASSERT_TRUE(OpenAccounts(bank0, {{"alice", 100}}));
  ASSERT_TRUE(OpenAccounts(bank1, {{"bob", 0}}));

  // The credited bank hangs (SIGSTOP) during the transfer: its prepare gets
  // no answer within --timeout-ms, so the transfer aborts.
  ASSERT_TRUE(cluster.banks[1]->Stop());
  CliRun run = testing::RunHarpc({"transfer", "--coordinator", cluster.coordinator->address(), "--from",
                                  cluster.BankTarget(0), "--from-account", "alice", "--to", cluster.BankTarget(1),
                                  "--to-account", "bob", "--amount", "25", "--timeout-ms", "800"});
  ASSERT_TRUE(cluster.banks[1]->Resume());
  ASSERT_EQ(run.exit_code, 3) << run.Stdout() << run.err;
  json::value line = json::parse(run.Stdout());
  const std::string txid(line.at("txid").as_string());
  EXPECT_EQ(line.at("outcome").as_string(), "aborted");
  // Whichever deadline fires first names the abort: the hung Bank.credit
  // call's, or (on a loaded machine) the coordinator's for the whole transfer.
  const std::string reason(line.at("reason").as_string());
  EXPECT_TRUE(reason.find("Bank.credit") != std::string::npos || reason.find("timed out") != std::string::npos)
      << run.Stdout();
  EXPECT_EQ(FinalOutcome(cluster.coordinator->address(), txid), "aborted");

  // Once it runs again, it reads the prepare that came too late: that call
  // (or, had the abort overtaken it, a tombstone refusing it) ends aborted.
  EXPECT_TRUE(PollUntil([&] { return !CallsOf(bank1, txid).empty(); }, 10s)) << "the late prepare never arrived";
  ASSERT_TRUE(WaitNothingPrepared({bank0, bank1}, 20s))
      << "prepared: bank0 " << PreparedOn(bank0) << ", bank1 " << PreparedOn(bank1);
  const CallStates late = CallsOf(bank1, txid);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_TRUE(late.begin()->first == "1" || late.begin()->first == "*") << late.begin()->first;
  EXPECT_EQ(late.begin()->second.second, "aborted");
  EXPECT_EQ(CallsOf(bank0, txid).at("0"), (std::pair<std::string, std::string>{"Bank.debit", "aborted"}));
  auto alice = AccountOf(bank0, "alice");
  auto bob = AccountOf(bank1, "bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->balance, 100);
  EXPECT_EQ(alice->reserved, 0);
  EXPECT_EQ(bob->balance, 0);
}

TEST(TxnBadInput, AClientThatVanishesAfterALateAnswerLeavesNothingInDoubt) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok());
  const std::string bank0 = cluster.banks[0]->address(), bank1 = cluster.banks[1]->address();
  ASSERT_TRUE(OpenAccounts(bank0, {{"alice", 100}}));
  ASSERT_TRUE(OpenAccounts(bank1, {{"bob", 0}}));
  Channel coordinator("list://" + cluster.coordinator->address(), ClientOptions(3s));
  Channel a("list://" + bank0, ClientOptions(3s)), b("list://" + bank1, ClientOptions(3s));

  // Debit prepared, credit unanswered (the bank is stopped), and the client
  // never decides: the coordinator times the transaction out and tells the
  // debit's bank, whose vote it registered; the credit's bank, stopped
  // before it could register, must ask.
  std::string txid;
  {
    Transaction txn(coordinator, {.timeout = 700ms});
    ASSERT_TRUE(txn.Begin().ok());
    txid = txn.id();
    ASSERT_TRUE(txn.Call(a, "Bank.debit", json::value{{"account", "alice"}, {"amount", 25}}).ok());
    ASSERT_TRUE(cluster.banks[1]->Stop());
    CallResult credit = txn.Call(b, "Bank.credit", json::value{{"account", "bob"}, {"amount", 25}});
    EXPECT_FALSE(credit.ok());
  }
  EXPECT_EQ(FinalOutcome(cluster.coordinator->address(), txid), "aborted");
  ASSERT_TRUE(cluster.banks[1]->Resume());
  EXPECT_TRUE(PollUntil([&] { return !CallsOf(bank1, txid).empty(); }, 10s)) << "the late prepare never arrived";

  ASSERT_TRUE(WaitNothingPrepared({bank0, bank1}, 20s))
      << "prepared: bank0 " << PreparedOn(bank0) << ", bank1 " << PreparedOn(bank1);
  // The credit prepared late, once the stopped bank ran again: its vote
  // refused, it asked and aborted.
  auto status = ParticipantStatus(bank1);
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(status->at("resolved_by_asking").to_number<int64_t>(), 1) << json::serialize(*status);
  EXPECT_EQ(CallsOf(bank0, txid).at("0"), (std::pair<std::string, std::string>{"Bank.debit", "aborted"}));
  EXPECT_EQ(CallsOf(bank1, txid).at("1"), (std::pair<std::string, std::string>{"Bank.credit", "aborted"}));
  auto alice = AccountOf(bank0, "alice");
  auto bob = AccountOf(bank1, "bob");
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->balance, 100);
  EXPECT_EQ(alice->reserved, 0);
  EXPECT_EQ(bob->balance, 0);
}

}  // namespace
}  // namespace harpc::txntest
