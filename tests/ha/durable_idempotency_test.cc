// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// `harpc serve --idempotency-db`: a retry that reaches a restarted server still
// gets the first answer, and the method does not run again.
#include <csignal>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "harpc/channel.h"
#include "support/test_support.h"

namespace harpc {
namespace {

using testing::StartServe;
using testing::TempDir;

CallResult Increment(Channel& channel, const std::string& key, int by) {
  CallOptions options;
  options.idempotency_key = key;
  return channel.Call("Counter.increment", boost::json::value{{"by", by}}, options);
}

TEST(DurableIdempotency, RetryAfterAServerRestartGetsTheStoredAnswer) {
  TempDir dir;
  const std::string db = dir.File("idempotency.db");
  auto first = StartServe({"--threads", "1", "--idempotency-db", db});
  ASSERT_FALSE(first.address.empty());
  const std::string listen = first.address;
  {
    Channel channel(listen, {});
    CallResult r = Increment(channel, "transfer-1", 7);
    ASSERT_TRUE(r.ok()) << r.status;
    EXPECT_EQ(r.value.at("value").as_int64(), 7);
  }
  first.process.Signal(SIGKILL);  // the answer was committed before it was sent
  ASSERT_TRUE(first.process.Wait(std::chrono::seconds(5)).has_value());

  auto second = StartServe({"--threads", "1", "--idempotency-db", db});
  ASSERT_FALSE(second.address.empty());
  Channel channel(second.address, {});
  CallResult retry = Increment(channel, "transfer-1", 7);
  ASSERT_TRUE(retry.ok()) << retry.status;
  EXPECT_EQ(retry.value.at("value").as_int64(), 7) << "the stored answer, not a new run";
  CallResult counter = channel.Call("Counter.get", nullptr);
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ(counter.value.at("value").as_int64(), 0) << "the new process never ran the method";

  CallResult other_params = Increment(channel, "transfer-1", 8);
  EXPECT_EQ(other_params.status.code(), StatusCode::kFailedPrecondition) << other_params.status;
  CallResult fresh_key = Increment(channel, "transfer-2", 5);
  ASSERT_TRUE(fresh_key.ok());
  EXPECT_EQ(fresh_key.value.at("value").as_int64(), 5);
}

TEST(DurableIdempotency, AnUnopenableDatabaseIsAClearStartupError) {
  Subprocess p;
  ASSERT_TRUE(Subprocess::Spawn({HARPC_BINARY, "serve", "--listen", "127.0.0.1:0", "--idempotency-db",
                                 "/nonexistent-dir/x/idempotency.db"},
                                &p, "/dev/null")
                  .ok());
  auto code = p.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
}

}  // namespace
}  // namespace harpc
