// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Turns callback-style work that completes on another thread or loop into
// something a coroutine awaits: `start` gets a `done` function to call once,
// from anywhere, with the value; the awaiting coroutine then resumes on its
// own executor (never on the caller of `done`, which may be a writer thread
// or another loop). `start` is taken by reference, so callers pass a named
// function: GCC 12 destroys a temporary argument of a co_await expression twice.
//
// Until `done` is called, the suspended coroutine belongs to its loop: a loop
// destroyed first (its owner stopped it while the work ran) destroys the
// coroutine while it shuts down, as Asio does with its own pending operations,
// and a later `done` does nothing. The coroutine is never resumed on, nor
// destroyed after, a loop that is gone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace harpc {

namespace detail {
// The suspended coroutines of one loop awaiting a `done`.
class AwaitingCallbacks : public boost::asio::execution_context::service {
 public:
  struct State {
    std::mutex mu;
    bool shut_down = false;
    uint64_t next_id = 0;
    std::unordered_map<uint64_t, std::shared_ptr<void>> held;  // the handlers
  };
  using key_type = AwaitingCallbacks;
  static inline boost::asio::execution_context::id id;

  explicit AwaitingCallbacks(boost::asio::execution_context& context)
      : boost::asio::execution_context::service(context), state_(std::make_shared<State>()) {}

  const std::shared_ptr<State>& state() const { return state_; }

  void shutdown() override {
    std::unordered_map<uint64_t, std::shared_ptr<void>> dropped;
    {
      std::lock_guard lock(state_->mu);
      state_->shut_down = true;
      dropped.swap(state_->held);
    }
    // `dropped` destroys the coroutines here, while the loop's services exist.
  }

 private:
  const std::shared_ptr<State> state_;
};
}  // namespace detail

template <typename T>
boost::asio::awaitable<T> AwaitCallback(const std::function<void(std::function<void(T)> done)>& start) {
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(T)>(
      [&start](auto handler) {
        using Handler = decltype(handler);
        auto executor = boost::asio::get_associated_executor(handler);
        std::shared_ptr<detail::AwaitingCallbacks::State> state =
            boost::asio::use_service<detail::AwaitingCallbacks>(
                boost::asio::query(executor, boost::asio::execution::context))
                .state();
        uint64_t id = 0;
        {
          std::lock_guard lock(state->mu);
          id = ++state->next_id;
          state->held.emplace(id, std::make_shared<Handler>(std::move(handler)));
        }
        start([state, id](T value) {
          // Under the lock, the loop cannot begin to shut down: the post
          // lands in a live loop (which destroys it unrun if it shuts down).
          std::lock_guard lock(state->mu);
          auto node = state->held.extract(id);
          if (node.empty()) return;  // the loop is gone, and the coroutine with it
          auto shared = std::static_pointer_cast<Handler>(std::move(node.mapped()));
          auto to = boost::asio::get_associated_executor(*shared);
          boost::asio::post(to, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace harpc
