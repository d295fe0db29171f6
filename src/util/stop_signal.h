// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Stopping background coroutines: the one cancellation mechanism of harpc.
//
// A StopSignal is a group of coroutines started with Spawn; Stop() emits
// Asio's terminal cancellation to each one still running. The operation it is
// waiting on (a timer, a socket read) completes at once with
// operation_aborted, and its next co_await throws operation_aborted, which
// ends the coroutine (that exception is expected and dropped; any other one
// is logged, so that a failing background task is not silent). A coroutine that must not
// touch anything after a stop checks
//   if (Stopped(co_await boost::asio::this_coro::cancellation_state)) co_return;
// after each wait.
//
// Spawn and Stop must run on the loop the coroutines run on (Asio's
// cancellation signals are not thread-safe). Each coroutine owns its own
// signal (held by its completion handler), so a coroutine may outlive the
// StopSignal that started it; finished ones are forgotten at the next Spawn,
// so the group stays as small as the number of coroutines running.
#pragma once

#include <algorithm>
#include <exception>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include "util/log.h"

namespace harpc {

class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(StopSignal&&) = default;
  StopSignal& operator=(StopSignal&&) = default;
  ~StopSignal() = default;  // does not stop: call Stop() first when the coroutines must end

  // Starts `coroutine` on `executor` as a member of this group.
  template <typename Awaitable>
  void Spawn(const boost::asio::any_io_executor& executor, Awaitable coroutine) {
    std::erase_if(signals_, [](const auto& s) { return s.expired(); });
    auto signal = std::make_shared<boost::asio::cancellation_signal>();
    signals_.push_back(signal);
    boost::asio::co_spawn(
        executor, std::move(coroutine),
        boost::asio::bind_cancellation_slot(signal->slot(), [signal](const std::exception_ptr& e, auto&&...) {
          if (e) LogUnlessCancelled(e);
        }));
  }

  // Cancels every coroutine of the group still running.
  void Stop() {
    for (auto& weak : signals_) {
      if (auto signal = weak.lock()) signal->emit(boost::asio::cancellation_type::terminal);
    }
    signals_.clear();
  }

 private:
  static void LogUnlessCancelled(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& error) {
      if (error.code() != boost::asio::error::operation_aborted)
        Log().error("background task failed: {}", error.what());
    } catch (const std::exception& error) {
      Log().error("background task failed: {}", error.what());
    } catch (...) {
      Log().error("background task failed with an unknown exception");
    }
  }

  std::vector<std::weak_ptr<boost::asio::cancellation_signal>> signals_;
};

// True once the coroutine whose cancellation state this is was cancelled
// (by StopSignal::Stop or any other terminal cancellation of its spawn).
inline bool Stopped(const boost::asio::cancellation_state& state) {
  return state.cancelled() != boost::asio::cancellation_type::none;
}

}  // namespace harpc
