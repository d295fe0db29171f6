// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// LoopLiveness: posting to another component's loop only while it exists.
#include "util/loop_liveness.h"

#include <memory>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace harpc {
namespace {

namespace asio = boost::asio;

TEST(LoopLiveness, PostsWhileTheLoopLivesAndNothingOnceItShutDown) {
  auto loop = std::make_unique<asio::io_context>(1);
  const LoopLiveness liveness(loop->get_executor());
  const LoopLiveness same_loop(loop->get_executor());
  int ran = 0;
  EXPECT_TRUE(liveness.Post([&ran] { ++ran; }));
  EXPECT_EQ(loop->poll(), 1u);
  EXPECT_EQ(ran, 1);

  // Queued on a loop that is then destroyed: destroyed unrun.
  auto destroyed = std::make_shared<int>(0);
  std::weak_ptr<int> watch = destroyed;
  EXPECT_TRUE(liveness.Post([destroyed = std::move(destroyed), &ran] { ++ran; }));
  loop.reset();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(ran, 1);

  // Every LoopLiveness of that loop knows it is gone.
  EXPECT_FALSE(liveness.Post([&ran] { ++ran; }));
  EXPECT_FALSE(same_loop.Post([&ran] { ++ran; }));
  EXPECT_FALSE(LoopLiveness().Post([&ran] { ++ran; }));
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace harpc
