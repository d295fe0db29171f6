// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Posting to another component's event loop, which its owner may destroy at
// any moment (a server's loop, on which channels of a coordinator run), is a
// use-after-free once that io_context is gone. A LoopLiveness knows, under a
// lock, whether its loop still takes work: it turns false when the loop's
// execution context shuts down, which is before any of it is freed. Post()
// holds that lock while it posts, so the context cannot begin to shut down in
// between; what was posted to a loop that then shuts down is destroyed unrun,
// like anything else queued there.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

namespace harpc {

class LoopLiveness {
 public:
  // One per execution context, shared by every LoopLiveness of its executors.
  struct State {
    std::mutex mu;
    bool alive = true;
  };

  // No loop: Post posts nothing.
  LoopLiveness() = default;
  // `executor`'s loop, which must be alive now.
  explicit LoopLiveness(boost::asio::any_io_executor executor);

  // Posts `fn` to the executor if its loop is still alive; false (and `fn`
  // dropped) once it shut down. Callable from any thread.
  template <typename Fn>
  bool Post(Fn&& fn) const {
    if (!state_) return false;
    std::lock_guard lock(state_->mu);
    if (!state_->alive) return false;
    boost::asio::post(executor_, std::forward<Fn>(fn));
    return true;
  }

  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  boost::asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
};

}  // namespace harpc
