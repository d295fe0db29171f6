// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/loop_liveness.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

namespace harpc {

namespace {
namespace asio = boost::asio;

// Lives in the execution context; its shutdown comes before the context frees
// anything (services shut down newest first, and the scheduler is the oldest).
class LivenessService : public asio::execution_context::service {
 public:
  using key_type = LivenessService;
  static inline asio::execution_context::id id;

  explicit LivenessService(asio::execution_context& context)
      : asio::execution_context::service(context), state(std::make_shared<LoopLiveness::State>()) {}

  void shutdown() override {
    std::lock_guard lock(state->mu);
    state->alive = false;
  }

  const std::shared_ptr<LoopLiveness::State> state;
};
}  // namespace

LoopLiveness::LoopLiveness(asio::any_io_executor executor)
    : executor_(std::move(executor)),
      state_(asio::use_service<LivenessService>(asio::query(executor_, asio::execution::context)).state) {}

}  // namespace harpc
