// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// RaftWireCheck: libraft's messages as libraft 0.15 encodes them pass, in
// any cut; every length libraft would trust beyond its buffer is refused.
#include "replication/raft_wire_check.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "replication/raft_messages.h"

namespace harpc::replication {
namespace {

using namespace harpc::testing::raft_messages;

// Every message type as libraft writes it, back to back.
std::string ValidStream() {
  return Message(3, Words({5, 2, 10, 4, 0})) +  // RequestVote
         Message(3, Words({5, 2, 10, 4})) +     // RequestVote, version 1
         Message(4, Words({5, 1, 1})) +         // RequestVoteResult
         Message(4, Words({5, 1})) +            // RequestVoteResult, version 1
         AppendEntries({}) +                    // a heartbeat
         AppendEntries({{}, {.length = 24}, {.type = 2}, {.type = 3, .length = 64}}) +
         Message(2, Words({5, 0, 12})) +                                         // AppendEntriesResult
         InstallSnapshot(Configuration(3), 40) + Message(6, Words({5, 12, 4}));  // TimeoutNow
}

TEST(RaftWireCheck, LibraftsOwnMessagesPassInAnyCut) {
  const std::string stream = ValidStream();
  for (size_t cut : {size_t{1}, size_t{3}, size_t{7}, size_t{16}, size_t{100}, stream.size()}) {
    RaftWireCheck check(1 << 20);
    for (size_t at = 0; at < stream.size(); at += cut) {
      ASSERT_TRUE(check.Feed(std::string_view(stream).substr(at, cut))) << "cut " << cut << ": " << check.error();
    }
    EXPECT_EQ(check.messages(), 9u) << "cut " << cut;
  }
}

// The first bad message of a stream is refused, with its reason.
void ExpectRefused(const std::string& bad, const std::string& reason, uint64_t max = 1 << 20) {
  RaftWireCheck check(max);
  EXPECT_FALSE(check.Feed(Message(6, Words({5, 12, 4})) + bad)) << "accepted; expected: " << reason;
  EXPECT_NE(check.error().find(reason), std::string::npos) << check.error();
  EXPECT_EQ(check.messages(), 1u);
  EXPECT_FALSE(check.Feed(ValidStream())) << "a refused stream stays refused";
}

TEST(RaftWireCheck, RefusesWhatLibraftWouldReadPastOrOverAllocate) {
  ExpectRefused(std::string(64, 'A'), "unknown message type");
  ExpectRefused(Message(0, Words({1})), "unknown message type 0");
  ExpectRefused(Message(0x10003, Words({1, 2, 3, 4})), "unknown message type");  // libraft keeps 16 bits
  ExpectRefused(Message(3, ""), "empty header");
  ExpectRefused(Message(3, Words({1})), "header of 8 bytes for message type 3");
  ExpectRefused(Message(3, Words({1, 2, 3, 4}) + "1234"), "header of 36 bytes");
  ExpectRefused(Message(4, Words({1})), "header of 8 bytes for message type 4");
  ExpectRefused(Message(2, Words({1, 2})), "header of 16 bytes");
  ExpectRefused(Message(6, Words({1})), "header of 8 bytes");
  {
    std::string preamble;
    Put(&preamble, 1);
    Put(&preamble, uint64_t{0x4141414141414141});
    ExpectRefused(preamble, "a header of 4702111234474983745 bytes");
  }
  ExpectRefused(Message(1, Words({1, 2, 3})), "an AppendEntries header of 24 bytes");
  ExpectRefused(Message(1, Words({1, 2, 3, 4, 1000000, 0})), "1000000 entries in a shorter header");
  ExpectRefused(AppendEntries({{}, {.length = 12}}), "an entry of 12 bytes, not a multiple of 8");
  ExpectRefused(AppendEntries({{.type = 7}}), "an entry of unknown type 7");
  ExpectRefused(AppendEntries({{.length = 1 << 20}}), "a message of more than 1048576 bytes");
  ExpectRefused(InstallSnapshot(Configuration(3), 2 << 20), "a message of more than");
  ExpectRefused(InstallSnapshot(Configuration(3, 9), 8), "without a valid role");
  {
    std::string conf = Configuration(3);
    conf[0] = 2;  // another format
    ExpectRefused(InstallSnapshot(conf, 8), "without its format");
  }
  {
    std::string conf = Configuration(1);
    conf.replace(1, 8, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8));  // 4 billion servers
    ExpectRefused(InstallSnapshot(conf, 8), "shorter than its servers");
  }
  {
    std::string h = Words({4, 100, 3, 90, 4096});  // a configuration longer than the header
    h += Configuration(1);
    Put(&h, 0);
    ExpectRefused(Message(5, h), "a configuration of 4096 bytes");
  }
}

}  // namespace
}  // namespace harpc::replication
