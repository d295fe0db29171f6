// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc::Channel with Protocol::kJsonRpc, batches (CallBatch) and
// notifications (Notify) against JSON-RPC 2.0 servers nobody on this project
// wrote: jayson (npm, its own HTTP server) and a server written from the
// specification in Flask. Also against harpc's own server, in both protocols.
#include <atomic>
#include <csignal>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "harpc/server.h"
#include "support/test_support.h"
#include "util/subprocess.h"

namespace harpc::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

// An outside JSON-RPC 2.0 server: a child that prints "listening on H:P".
struct Peer {
  std::string name;
  Subprocess process;
  std::string address;
};

Peer StartPeer(const std::string& name, const std::vector<std::string>& argv) {
  Peer peer{.name = name};
  std::string line;
  Status s = Subprocess::Spawn(argv, &peer.process, "/dev/null");
  if (s.ok()) s = peer.process.ReadLine(Scaled(20s), &line);
  const std::string prefix = "listening on ";
  if (!s.ok() || line.rfind(prefix, 0) != 0) {
    ADD_FAILURE() << name << " did not start: " << (s.ok() ? "first line '" + line + "'" : s.ToString());
    return peer;
  }
  peer.address = line.substr(prefix.size());
  return peer;
}

Peer StartJayson() {
  return StartPeer("jayson", {"/usr/bin/node", std::string(HARPC_INTEROP_DIR) + "/node/jayson_server.js"});
}

Peer StartSpecServer() {
  return StartPeer("spec", {"/usr/bin/python3", std::string(HARPC_INTEROP_DIR) + "/jsonrpc_server.py"});
}

ChannelOptions JsonRpcOptions() {
  ChannelOptions options;
  options.protocol = Protocol::kJsonRpc;
  return options;
}

// The same conversation with each outside server.
class OutsidePeer : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    peer_ = GetParam() == "jayson" ? StartJayson() : StartSpecServer();
    ASSERT_FALSE(peer_.address.empty());
  }
  Peer peer_;
};

TEST_P(OutsidePeer, CallsGiveResultsAndErrorObjectsAsStatus) {
  Channel channel(peer_.address, JsonRpcOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  CallResult r = channel.Call("add", json::parse("[1, 2]"));
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.value, 3);
  r = channel.Call("fail", json::array());
  EXPECT_EQ(r.status.code(), StatusCode::kUnknown);
  EXPECT_EQ(r.status.message(), "the answer is no (JSON-RPC error 42)");
  r = channel.Call("nosuch", json::array());
  EXPECT_EQ(r.status.code(), StatusCode::kUnimplemented) << r.status;
  r = channel.Call("add", json::parse(R"(["x", 2])"));
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << r.status;
}

TEST_P(OutsidePeer, ABatchComesBackInOrderEachCallWithItsOwnAnswer) {
  Channel channel(peer_.address, JsonRpcOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  std::vector<BatchCall> batch = {
      {.method = "add", .params = json::parse("[1, 2]")},
      {.method = "fail", .params = json::array()},
      {.method = "note", .params = json::parse(R"(["from a batch"])"), .notification = true},
      {.method = "nosuch", .params = nullptr},
      {.method = "add", .params = json::parse("[40, 2]")},
  };
  std::vector<CallResult> results = channel.CallBatch(batch);
  ASSERT_EQ(results.size(), batch.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status;
  EXPECT_EQ(results[0].value, 3);
  EXPECT_EQ(results[1].status.message(), "the answer is no (JSON-RPC error 42)");
  EXPECT_TRUE(results[2].ok()) << "a notification is done once delivered: " << results[2].status;
  EXPECT_TRUE(results[2].value.is_null());
  EXPECT_EQ(results[3].status.code(), StatusCode::kUnimplemented) << results[3].status;
  ASSERT_TRUE(results[4].ok()) << results[4].status;
  EXPECT_EQ(results[4].value, 42);
  for (const CallResult& r : results) EXPECT_EQ(r.endpoint, peer_.address);

  // A batch of notifications only: the server answers nothing at all.
  results = channel.CallBatch({{.method = "note", .params = json::parse("[1]"), .notification = true},
                               {.method = "note", .params = json::parse("[2]"), .notification = true}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok() && results[1].ok()) << results[0].status << " / " << results[1].status;

  CallResult notes = channel.Call("notes", json::array());
  ASSERT_TRUE(notes.ok()) << notes.status;
  EXPECT_EQ(notes.value, json::parse(R"(["from a batch", 1, 2])"));
}

TEST_P(OutsidePeer, ANotificationRunsAndIsAnsweredWithNothing) {
  Channel channel(peer_.address, JsonRpcOptions());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  EXPECT_TRUE(channel.Notify("note", json::parse("[7]")).ok());
  EXPECT_TRUE(channel.Notify("note", json::parse("[8]")).ok());
  // Its own failure is never reported: the server answers nothing.
  EXPECT_TRUE(channel.Notify("nosuch", json::array()).ok());
  CallResult notes = channel.Call("notes", json::array());
  ASSERT_TRUE(notes.ok()) << notes.status;
  EXPECT_EQ(notes.value, json::parse("[7, 8]"));
}

TEST_P(OutsidePeer, AServerWithoutAHealthEndpointStaysInUse) {
  // Both answer GET /health with an error (405 or 404): no health endpoint,
  // which heartbeats report once and then leave alone.
  ChannelOptions options = JsonRpcOptions();
  options.health.interval = 50ms;
  Channel channel(peer_.address, options);
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  EXPECT_TRUE(HoldsFor([&] { return channel.Endpoints().at(0).state == "healthy"; }, Scaled(500ms)))
      << channel.Endpoints().at(0).state;
  CallResult r = channel.Call("add", json::parse("[2, 2]"));
  ASSERT_TRUE(r.ok()) << r.status;
  // Probed for liveness still: a dead server is no longer healthy.
  peer_.process.Signal(SIGKILL);
  EXPECT_TRUE(PollUntil([&] { return channel.Endpoints().at(0).state != "healthy"; }, Scaled(2s)))
      << channel.Endpoints().at(0).state;
}

INSTANTIATE_TEST_SUITE_P(JsonRpc, OutsidePeer, ::testing::Values("jayson", "spec"));

// ---- harpc's own server ----

class HarpcServer {
 public:
  HarpcServer() {
    ServerOptions options;
    options.threads = 1;
    options.handle_signals = false;
    server_ = std::make_unique<Server>(options);
    EXPECT_TRUE(server_
                    ->AddMethod("Test.add",
                                [](const json::value& p, CallContext&) -> Result {
                                  const json::array* a = p.if_array();
                                  if (!a || a->size() != 2 || !a->at(0).is_int64() || !a->at(1).is_int64()) {
                                    return InvalidArgument("params must be two integers");
                                  }
                                  return json::value(a->at(0).as_int64() + a->at(1).as_int64());
                                })
                    .ok());
    EXPECT_TRUE(server_
                    ->AddMethod("Test.note",
                                [this](const json::value&, CallContext&) -> Result {
                                  ++notes_;
                                  return json::value(true);
                                })
                    .ok());
    Status s = server_->Start("127.0.0.1:0");
    EXPECT_TRUE(s.ok()) << s;
  }
  ~HarpcServer() {
    server_->Shutdown();
    server_->Wait();
  }
  std::string address() const { return server_->address(); }
  int notes() const { return notes_.load(); }

 private:
  std::unique_ptr<Server> server_;
  std::atomic<int> notes_{0};
};

TEST(HarpcBatch, EitherProtocolBatchesToTheSameServer) {
  HarpcServer server;
  for (Protocol protocol : {Protocol::kHarpc, Protocol::kJsonRpc}) {
    ChannelOptions options;
    options.protocol = protocol;
    Channel channel(server.address(), options);
    ASSERT_TRUE(channel.status().ok()) << channel.status();
    const int notes_before = server.notes();
    std::vector<CallResult> results = channel.CallBatch({
        {.method = "Test.add", .params = json::parse("[1, 2]")},
        {.method = "Test.add", .params = json::parse(R"(["x"])")},
        {.method = "Nope.nope", .params = nullptr},
        {.method = "Test.note", .params = nullptr, .notification = true},
    });
    ASSERT_EQ(results.size(), 4u);
    ASSERT_TRUE(results[0].ok()) << results[0].status;
    EXPECT_EQ(results[0].value, 3);
    EXPECT_EQ(results[1].status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(results[1].status.message(), "params must be two integers");
    EXPECT_EQ(results[2].status.code(), StatusCode::kUnimplemented);
    EXPECT_TRUE(results[3].ok());
    EXPECT_TRUE(PollUntil([&] { return server.notes() == notes_before + 1; }, Scaled(5s)));

    EXPECT_TRUE(channel.Notify("Test.note", nullptr).ok());
    EXPECT_TRUE(PollUntil([&] { return server.notes() == notes_before + 2; }, Scaled(5s)));
  }
}

TEST(HarpcBatch, WhatABatchCannotCarryIsRefusedBeforeSending) {
  HarpcServer server;
  Channel channel(server.address());
  std::vector<CallResult> results = channel.CallBatch({});
  EXPECT_TRUE(results.empty());
  results =
      channel.CallBatch({{.method = "Test.add", .params = json::parse("[1, 2]")}, {.method = "Test.add", .params = 7}});
  ASSERT_EQ(results.size(), 2u);
  for (const CallResult& r : results) {
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status.message(), HasSubstr("batch call 1 (Test.add)")) << r.status;
    EXPECT_EQ(r.attempts, 0) << "nothing was sent";
  }
  EXPECT_EQ(channel.Notify("Test.note", "text").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.notes(), 0);
}

TEST(HarpcBatch, ABatchFailsOverFromARefusedEndpointAndFailsWholeWhenNothingAnswers) {
  HarpcServer server;
  const std::string closed = "127.0.0.1:" + std::to_string(FreePort());
  Channel channel("list://" + closed + "," + server.address());
  ASSERT_TRUE(channel.status().ok()) << channel.status();
  for (int i = 0; i < 4; ++i) {
    std::vector<CallResult> results = channel.CallBatch({{.method = "Test.add", .params = json::parse("[1, 1]")},
                                                         {.method = "Test.add", .params = json::parse("[2, 2]")}});
    ASSERT_EQ(results.size(), 2u);
    ASSERT_TRUE(results[0].ok() && results[1].ok()) << results[0].status << " / " << results[1].status;
    EXPECT_EQ(results[0].value, 2);
    EXPECT_EQ(results[1].value, 4);
    EXPECT_EQ(results[0].endpoint, server.address());
  }

  Channel nowhere("list://" + closed);
  std::vector<CallResult> results = nowhere.CallBatch(
      {{.method = "Test.add", .params = json::parse("[1, 1]")}, {.method = "Test.note", .notification = true}});
  ASSERT_EQ(results.size(), 2u);
  for (const CallResult& r : results) {
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status;
    EXPECT_THAT(r.status.message(), HasSubstr(closed));
  }
  EXPECT_EQ(nowhere.Notify("Test.note", nullptr).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace harpc::testing
