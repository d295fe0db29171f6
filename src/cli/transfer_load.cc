// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "cli/transfer_load.h"

#include <algorithm>
#include <future>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "apps/transfer.h"
#include "util/log.h"

namespace harpc::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kAbortsLogged = 20;

// Shared by the callers; they all run on the coordinator channel's loop.
struct TransferLoadState {
  const TransferLoadSpec& spec;
  Clock::time_point start, end;
  Clock::time_point last_commit;  // or the start, before the first
  uint64_t started = 0;
  int aborts_logged = 0;  // failures logged in full, up to kAbortsLogged
  int running = 0;        // callers, and the ticker while it runs
  asio::steady_timer* tick_timer = nullptr;
  std::promise<void> finished;  // set when the last of them ends

  // Called by each caller and the ticker as it ends: once only the ticker is
  // left it is woken, and the last one out lets RunTransferLoad return.
  void Ended() {
    --running;
    if (running == 1 && tick_timer) tick_timer->cancel();
    if (running == 0) finished.set_value();
  }
  std::mt19937_64 rng{std::random_device{}()};
  TransferReport report;

  // The longest time without a commit: how long a failure stopped the flow.
  void Committed(Clock::time_point at) {
    report.longest_gap =
        std::max(report.longest_gap, std::chrono::duration_cast<std::chrono::milliseconds>(at - last_commit));
    last_commit = at;
  }

  bool More() const { return spec.count > 0 ? started < spec.count : Clock::now() < end; }
  std::string Account(const std::string& prefix) {
    if (spec.accounts <= 0) return prefix;
    return prefix + std::to_string(rng() % static_cast<uint64_t>(spec.accounts));
  }
};

// The reason up to its second ": " ("Bank.debit on H:P failed: UNAVAILABLE"),
// so that the report's reasons stay few and readable; a bank's refusal for
// lack of money is "insufficient funds".
std::string ReasonKind(const std::string& reason) {
  // The application's own refusal, whatever bank and account it names.
  if (reason.find("insufficient funds") != std::string::npos) return "insufficient funds";
  size_t cut = reason.find(": ");
  if (cut != std::string::npos) cut = reason.find(": ", cut + 2);
  std::string kind = reason.substr(0, cut == std::string::npos ? reason.size() : cut);
  return kind.size() > 100 ? kind.substr(0, 100) : kind;
}

asio::awaitable<void> Caller(Channel& coordinator, Channel& from, Channel& to, bool reverse, TransferLoadState& state) {
  const std::string& from_prefix = reverse ? state.spec.to_account : state.spec.from_account;
  const std::string& to_prefix = reverse ? state.spec.from_account : state.spec.to_account;
  while (state.More()) {
    ++state.started;
    txn::TransferRequest request{.from_account = state.Account(from_prefix),
                                 .to_account = state.Account(to_prefix),
                                 .amount = state.spec.amount};
    TransactionOptions options = state.spec.transaction;
    const auto t0 = Clock::now();
    TxnOutcome outcome = co_await txn::Transfer(coordinator, from, to, std::move(request), options);
    state.report.latency->Record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
    ++state.report.transfers;
    if (!outcome.status.ok()) {
      ++state.report.unknown;
      if (!outcome.txid.empty() && state.report.unknown_txids.size() < 10000) {
        state.report.unknown_txids.push_back(outcome.txid);
      }
      if (++state.aborts_logged <= kAbortsLogged) {
        Log().warn("transfer {} outcome unknown: {}", outcome.txid, outcome.status.ToString());
      }
      ++state.report.abort_reasons["unknown: " + ReasonKind(outcome.status.message())];
    } else if (outcome.committed) {
      ++state.report.committed;
      state.Committed(Clock::now());
    } else {
      ++state.report.aborted;
      const std::string kind = ReasonKind(outcome.reason);
      // The report keeps a reason's first words; the log keeps the whole of
      // the first few caused by a failure, which say what to look at.
      if (kind != "insufficient funds" && ++state.aborts_logged <= kAbortsLogged) {
        Log().warn("transfer {} aborted: {}", outcome.txid, outcome.reason);
      }
      ++state.report.abort_reasons[kind];
    }
    if (!outcome.status.ok() || outcome.txid.empty()) {
      // The coordinator is out of reach: pause as a real client would,
      // rather than spin through failures.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  state.Ended();
}

asio::awaitable<void> Ticker(TransferLoadState& state, std::function<void(const TransferReport&)> on_tick,
                             std::chrono::milliseconds tick) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  state.tick_timer = &timer;
  while (state.running > 1) {  // the callers are still at work
    timer.expires_after(tick);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    state.report.seconds = std::chrono::duration<double>(Clock::now() - state.start).count();
    if (state.running > 1) on_tick(state.report);
  }
  state.tick_timer = nullptr;
  state.Ended();
}
}  // namespace

ChannelOptions TransferChannelOptions(ChannelOptions options, const std::string& target) {
  if (target.find(',') == std::string::npos) return options;
  options.hedge.after = std::chrono::milliseconds(300);
  // A member that dies mid-call is followed by members that still name it
  // leader until the election ends: room for a few more attempts, within
  // the transaction's deadline.
  options.retry.max_retries = std::max(options.retry.max_retries, 6);
  return options;
}

json::object TransferReport::ToJson() const {
  json::object reasons;
  for (const auto& [reason, n] : abort_reasons) reasons[reason] = n;
  return {{"transfers", transfers},
          {"committed", committed},
          {"aborted", aborted},
          {"errors", unknown},
          {"tps", tps()},
          {"latency_ms",
           {{"p50", latency->QuantileMicros(0.5) / 1000.0},
            {"p99", latency->QuantileMicros(0.99) / 1000.0},
            {"max", static_cast<double>(latency->max_micros()) / 1000.0}}},
          {"longest_gap_ms", longest_gap.count()},
          {"abort_reasons", std::move(reasons)}};
}

TransferReport RunTransferLoad(Channel& coordinator, Channel& from, Channel& to, const TransferLoadSpec& spec,
                               std::function<void(const TransferReport&)> on_tick, std::chrono::milliseconds tick) {
  TransferLoadState state{.spec = spec};
  state.start = Clock::now();
  state.last_commit = state.start;
  state.end = state.start + spec.duration;
  state.running = spec.concurrency + (on_tick ? 1 : 0);
  auto done = state.finished.get_future();
  auto executor = coordinator.executor();
  asio::post(executor, [&] {
    for (int i = 0; i < spec.concurrency; ++i) {
      const bool reverse = spec.both_ways && i % 2 == 1;
      asio::co_spawn(executor, Caller(coordinator, reverse ? to : from, reverse ? from : to, reverse, state),
                     asio::detached);
    }
    if (on_tick) asio::co_spawn(executor, Ticker(state, on_tick, tick), asio::detached);
  });
  done.wait();
  state.report.seconds = std::chrono::duration<double>(Clock::now() - state.start).count();
  state.Committed(Clock::now());  // a gap still open at the end counts too
  return std::move(state.report);
}

}  // namespace harpc::cli
