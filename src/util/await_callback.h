// Turns callback-style work that completes on another thread or loop into
// something a coroutine awaits: `start` gets a `done` function to call once,
// from anywhere, with the value; the awaiting coroutine then resumes on its
// own executor (never on the caller of `done`, which may be a writer thread
// or another loop). `start` is taken by reference, so callers pass a named
// function: GCC 12 destroys a temporary argument of a co_await expression twice.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/loop_liveness.h"

namespace harpc {

template <typename T>
boost::asio::awaitable<T> AwaitCallback(const std::function<void(std::function<void(T)> done)>& start) {
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(T)>(
      [&start](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        // The awaiting loop may be gone by the time `done` is called (its
        // owner destroyed it while the work ran on another thread): nothing
        // is posted to it then.
        const LoopLiveness loop(boost::asio::get_associated_executor(*shared));
        start([shared, loop](T value) {
          loop.Post([shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        });
      },
      boost::asio::use_awaitable);
}

}  // namespace harpc
