// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A replicated group of three in one process: election, replication, a
// leader's loss, catch-up from the log and by snapshot, linearizable reads,
// the not-leader answer, and the /raft upgrade under bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include <boost/json.hpp>

#include <fstream>

#include "apps/test_pki.h"
#include "replication/group_support.h"
#include "replication/raft_messages.h"
#include "support/test_support.h"

namespace harpc::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

// Election timeout 300 ms, randomized up to 600: a leader within this after
// start or after the last one died, with room for a loaded machine.
constexpr milliseconds kElection{5000};

class GroupTest : public ::testing::Test {
 protected:
  void StartAll(const GroupOptions& options) {
    for (auto& m : members) ASSERT_TRUE(m->Start(options).ok()) << m->address;
  }
  // Proposes first..last through whoever leads, each added to `expected`.
  void ProposeRange(int64_t first, int64_t last, std::vector<int64_t>* expected) {
    for (int64_t v = first; v <= last; ++v) {
      Result r = ProposeToLeader(members, v);
      ASSERT_TRUE(r.ok()) << r.status();
      expected->push_back(v);
    }
  }
  // Every running member applied exactly `expected`, in that order.
  bool AllApplied(const std::vector<int64_t>& expected) {
    for (auto& m : members) {
      if (m->running() && m->machine->values() != expected) return false;
    }
    return true;
  }

  TempDir dir{"harpc-group"};
  std::vector<std::unique_ptr<GroupMember>> members = MakeMembers(3, dir.path());
};

TEST_F(GroupTest, ElectsOneLeaderAndAppliesTheSameCommandsEverywhere) {
  StartAll(OptionsFor(members));
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  std::vector<int64_t> expected;
  for (int64_t v = 1; v <= 200; ++v) {
    Result r = ProposeToLeader(members, v);
    ASSERT_TRUE(r.ok()) << r.status();
    expected.push_back(v);
    EXPECT_EQ(r.value().to_number<uint64_t>(), expected.size());  // the leader's Apply answered
  }
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection));
  PollUntil([&] { return leader->machine->leading.load(); }, kElection);
  EXPECT_TRUE(leader->machine->leading) << "the leader's state machine was told it leads";
  for (auto& m : members) {
    if (m.get() != leader) {
      EXPECT_FALSE(m->machine->leading);
    }
  }

  // GET /status shows the group.
  RawSocket socket(PortOf(leader->address));
  ASSERT_TRUE(socket.Send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
  json::value status = json::parse(BodyOf(socket.ReadResponse(milliseconds(2000))));
  const json::object& group = status.at("group").as_object();
  EXPECT_EQ(group.at("role").as_string(), "leader");
  EXPECT_EQ(group.at("leader").as_string(), leader->address);
  EXPECT_GE(group.at("term").to_number<uint64_t>(), 1u);
  EXPECT_GE(group.at("applied_index").to_number<uint64_t>(), 200u);
  EXPECT_EQ(group.at("members").as_array().size(), 3u);
}

TEST_F(GroupTest, AFollowerAnswersNotLeaderWithTheLeadersAddress) {
  StartAll(OptionsFor(members));
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  for (auto& m : members) {
    if (m.get() == leader) continue;
    Result r = m->Propose(7);
    EXPECT_EQ(r.status().code(), StatusCode::kNotLeader) << r.status();
    EXPECT_EQ(r.status().leader(), leader->address);
    EXPECT_EQ(m->Read().code(), StatusCode::kNotLeader);
  }
  EXPECT_TRUE(leader->Read().ok());
  EXPECT_TRUE(HoldsFor([&] { return AllApplied({}); }, milliseconds(300))) << "nothing a follower refused was applied";
}

TEST_F(GroupTest, ALeadersLossElectsAnotherThatKeepsEveryCommittedCommand) {
  StartAll(OptionsFor(members));
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  std::vector<int64_t> expected;
  ProposeRange(1, 50, &expected);
  leader->Stop();
  const auto killed = std::chrono::steady_clock::now();
  GroupMember* next = WaitForLeader(members, kElection);
  ASSERT_NE(next, nullptr);
  ASSERT_NE(next, leader);
  RecordProperty("failover_ms", static_cast<int>(Since(killed).count()));
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection)) << "a committed command was lost";
  ProposeRange(51, 100, &expected);  // the leader may change again on a loaded machine
  // The old leader comes back from its disk and catches up from the log.
  ASSERT_TRUE(leader->Start(OptionsFor(members)).ok());
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection));
}

TEST_F(GroupTest, AMemberFarBehindCatchesUpBySnapshotAlsoFromAnEmptyDataDir) {
  GroupOptions options = OptionsFor(members);
  options.snapshot_threshold = 64;
  options.snapshot_trailing = 16;
  StartAll(options);
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  GroupMember* behind = members[0].get() == leader ? members[1].get() : members[0].get();
  GroupMember* wiped = members[2].get() == leader ? members[1].get() : members[2].get();
  ASSERT_NE(behind, wiped);
  behind->Stop();
  std::vector<int64_t> expected;
  ProposeRange(1, 1000, &expected);
  // From its own disk, 1000 commands behind a log compacted to 16 + 64.
  ASSERT_TRUE(behind->Start(options).ok());
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection));
  // From nothing at all.
  wiped->Stop();
  std::filesystem::remove_all(wiped->data_dir);
  ASSERT_TRUE(wiped->Start(options).ok());
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection));
  // It still leads or follows like the others, and new commands reach everyone.
  ASSERT_TRUE(ProposeToLeader(members, 1001).ok());
  expected.push_back(1001);
  EXPECT_TRUE(PollUntil([&] { return AllApplied(expected); }, kElection));
}

TEST_F(GroupTest, ALoneMemberCommitsNothing) {
  GroupOptions options = OptionsFor(members);
  options.propose_timeout = milliseconds(500);
  StartAll(options);
  ASSERT_TRUE(ProposeToLeader(members, 1).ok());
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  for (auto& m : members) {
    if (m.get() != leader) m->Stop();
  }
  Result r = leader->Propose(2);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kUnavailable || r.status().code() == StatusCode::kNotLeader)
      << r.status();
  EXPECT_EQ(leader->machine->values(), std::vector<int64_t>{1});
  EXPECT_FALSE(leader->Read().ok()) << "a read needs a majority too";
}

TEST_F(GroupTest, TheRaftUpgradeRefusesBadRequestsAndSurvivesGarbage) {
  StartAll(OptionsFor(members));
  GroupMember* leader = WaitForLeader(members, kElection);
  ASSERT_NE(leader, nullptr);
  const int port = PortOf(leader->address);
  {  // not an upgrade
    RawSocket s(port);
    ASSERT_TRUE(s.Send("GET /raft HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(StatusOf(s.ReadResponse(milliseconds(2000))), 426);
  }
  {  // POST
    RawSocket s(port);
    ASSERT_TRUE(s.Send("POST /raft HTTP/1.1\r\nHost: x\r\nUpgrade: harpc-raft/1\r\nContent-Length: 0\r\n\r\n"));
    EXPECT_EQ(StatusOf(s.ReadResponse(milliseconds(2000))), 405);
  }
  {  // no member identity: switched, then closed
    RawSocket s(port);
    ASSERT_TRUE(s.Send("GET /raft HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: harpc-raft/1\r\n\r\n"));
    EXPECT_TRUE(s.WaitClosed(milliseconds(2000)));
  }
  for (int i = 0; i < 20; ++i) {  // garbage where Raft messages should be
    RawSocket s(port);
    ASSERT_TRUE(
        s.Send("GET /raft HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: harpc-raft/1\r\n"
               "X-Raft-Id: 2\r\nX-Raft-Address: 127.0.0.1:1\r\n\r\n"));
    std::string junk(4096 + i * 997, static_cast<char>(0x41 + i));
    s.Send(junk);
    s.WaitClosed(milliseconds(1000));
  }
  // Raft messages whose lengths libraft would trust: a header shorter than
  // its fields, more entries than the header holds, an entry that shifts
  // the next ones, a length it would allocate as given.
  using namespace raft_messages;
  std::string huge;
  Put(&huge, 1);
  Put(&huge, uint64_t{1} << 62);
  for (const std::string& bad :
       {Message(3, Words({1})), Message(1, Words({1, 2, 3, 4, 1000000, 0})), AppendEntries({{}, {.length = 12}, {}}),
        huge, InstallSnapshot(Configuration(2, 7), 8)}) {
    RawSocket s(port);
    ASSERT_TRUE(
        s.Send("GET /raft HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: harpc-raft/1\r\n"
               "X-Raft-Id: 2\r\nX-Raft-Address: 127.0.0.1:1\r\n\r\n" +
               bad));
    EXPECT_TRUE(s.WaitClosed(milliseconds(2000))) << "a bad Raft message did not close the connection";
  }
  // The group still works.
  Result r = ProposeToLeader(members, 1);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(PollUntil([&] { return AllApplied({1}); }, kElection));
}

}  // namespace
}  // namespace harpc::testing

namespace harpc::testing {
namespace {

// Raft over mutual TLS with tokens: the group forms and replicates, and a
// member that presents a client token (not a peer one) cannot take part.
TEST(GroupTrustTest, RaftTravelsInsideTheListenersTlsAndNeedsAPeerToken) {
  TempDir dir{"harpc-group-tls"};
  TestPki pki;
  ASSERT_TRUE(MakeTestPki(dir.File("pki"), &pki).ok());
  {
    std::ofstream auth(dir.File("auth"));
    auth << "peer peer-secret\nclient client-secret\n";
  }
  ServerOptions server;
  server.tls = {.cert_file = pki.cert, .key_file = pki.key, .client_ca_file = pki.ca_cert};
  server.auth.auth_file = dir.File("auth");
  auto members = MakeMembers(3, dir.path());
  GroupOptions options = OptionsFor(members);
  options.propose_timeout = milliseconds(300);
  options.security.tls = {.cert_file = pki.cert, .key_file = pki.key, .ca_file = pki.ca_cert};
  options.security.bearer_token = "peer-secret";
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(members[i]->Start(options, server).ok());
  GroupMember* leader = WaitForLeader(members, milliseconds(5000));  // the running two
  ASSERT_NE(leader, nullptr) << "two members of three elect a leader over TLS";
  ASSERT_TRUE(ProposeToLeader(members, 1).ok());
  leader = WaitForLeader(members, milliseconds(5000));
  ASSERT_NE(leader, nullptr);

  // The third presents a token of role client: its upgrades are refused,
  // so its votes and acknowledgments never reach anyone. With the second
  // member down, the group has no majority and commits nothing.
  GroupOptions intruder = options;
  intruder.security.bearer_token = "client-secret";
  ASSERT_TRUE(members[2]->Start(intruder, server).ok());
  GroupMember* other = leader == members[0].get() ? members[1].get() : members[0].get();
  GroupMember* survivor = leader;
  other->Stop();
  EXPECT_TRUE(HoldsFor([&] { return !survivor->Propose(2).ok(); }, milliseconds(2000)))
      << "a member without a peer token counted toward a majority";
  // Restarted with the peer token, it makes the majority again.
  members[2]->Stop();
  ASSERT_TRUE(members[2]->Start(options, server).ok());
  GroupMember* now = nullptr;
  EXPECT_TRUE(PollUntil([&] { return (now = WaitForLeader(members, milliseconds(200))) && now->Propose(3).ok(); },
                        milliseconds(8000)));
  if (now) {
    EXPECT_EQ(now->machine->values().back(), 3);
  }

  // Plain HTTP to the /raft upgrade of a TLS listener gets nowhere.
  RawSocket plain(PortOf(leader->address));
  plain.Send("GET /raft HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: harpc-raft/1\r\n\r\n");
  EXPECT_TRUE(plain.WaitClosed(milliseconds(6000)));
}

}  // namespace
}  // namespace harpc::testing
