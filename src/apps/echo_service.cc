// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "apps/echo_service.h"

#include <atomic>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/fault_injection.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// The faults in force; Fault.set changes them while the server runs.
struct Faults {
  std::atomic<int64_t> delay_ms{0};
  std::atomic<double> fail_rate{0};
};

Status InjectedFailure() { return Unavailable("injected failure (--fail-rate)"); }

asio::awaitable<Result> Echo(json::value params, CallContext& ctx, const Faults& faults) {
  const auto delay = std::chrono::milliseconds(faults.delay_ms.load(std::memory_order_relaxed));
  if (delay.count() > 0) {
    const bool cut_short = ctx.remaining() < delay;
    asio::steady_timer timer(ctx.executor(), std::min(delay, ctx.remaining()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (cut_short) co_return DeadlineExceeded("deadline passed during the injected delay");
  }
  if (InjectFault(faults.fail_rate.load(std::memory_order_relaxed))) co_return InjectedFailure();
  co_return params;
}
}  // namespace

Status RegisterEchoService(Server& server, EchoServiceOptions options) {
  auto faults = std::make_shared<Faults>();
  faults->delay_ms = options.delay.count();
  faults->fail_rate = options.fail_rate;

  Status s = server.AddAsyncMethod(
      "Echo.echo", [faults](json::value params, CallContext& ctx) { return Echo(std::move(params), ctx, *faults); },
      {.idempotent = true});
  if (!s.ok()) return s;
  if (s = server.SetDefaultMethod("Echo.echo"); !s.ok()) return s;

  // Demos slow a server down and speed it up again while it runs.
  s = server.AddMethod(
      "Fault.set",
      [faults](const json::value& params, CallContext&) -> Result {
        if (!params.is_object()) return InvalidArgument("params must be {\"delay_ms\": N, \"fail_rate\": R}");
        const json::object& p = params.as_object();
        if (const json::value* d = p.if_contains("delay_ms")) {
          if (!d->is_int64() || d->as_int64() < 0) return InvalidArgument("delay_ms must be a non-negative integer");
          faults->delay_ms = d->as_int64();
        }
        if (const json::value* r = p.if_contains("fail_rate")) {
          double rate = r->is_number() ? r->to_number<double>() : -1;
          if (rate < 0 || rate > 1) return InvalidArgument("fail_rate must be a number in [0, 1]");
          faults->fail_rate = rate;
        }
        return json::value{{"delay_ms", faults->delay_ms.load()}, {"fail_rate", faults->fail_rate.load()}};
      },
      {.idempotent = true, .role = Role::kPeer});  // it can make a healthy server fail every call
  if (!s.ok()) return s;

  // A counter shared by every loop: not idempotent, so retries are safe only
  // with an Idempotency-Key. Failure tests count how often it really ran.
  auto counter = std::make_shared<std::atomic<int64_t>>(0);
  s = server.AddMethod("Counter.increment", [counter](const json::value& params, CallContext&) -> Result {
    int64_t by = 1;
    if (params.is_object()) {
      if (const json::value* v = params.as_object().if_contains("by")) {
        if (!v->is_int64()) return InvalidArgument("\"by\" must be an integer");
        by = v->as_int64();
      }
    } else if (!params.is_null()) {
      return InvalidArgument("params must be an object like {\"by\": 1} or absent");
    }
    return json::value{{"value", counter->fetch_add(by) + by}};
  });
  if (!s.ok()) return s;
  return server.AddMethod("Counter.get",
                          [counter](const json::value&, CallContext&) -> Result {
                            return json::value{{"value", counter->load()}};
                          },
                          {.idempotent = true});
}

}  // namespace harpc
