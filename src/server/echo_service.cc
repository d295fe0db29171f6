#include "server/echo_service.h"

#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
bool InjectFailure(double rate) {
  if (rate <= 0) return false;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng) < rate;
}

Status InjectedFailure() { return Unavailable("injected failure (--fail-rate)"); }
}  // namespace

Status RegisterEchoService(Server& server, EchoServiceOptions options) {
  Status s;
  if (options.delay.count() <= 0) {
    s = server.AddMethod(
        "Echo.echo",
        [options](const json::value& params, CallContext&) -> Result {
          if (InjectFailure(options.fail_rate)) return InjectedFailure();
          return params;
        },
        {.idempotent = true});
  } else {
    s = server.AddAsyncMethod(
        "Echo.echo",
        [options](json::value params, CallContext& ctx) -> asio::awaitable<Result> {
          const bool cut_short = ctx.remaining() < options.delay;
          asio::steady_timer timer(ctx.executor(), std::min(options.delay, ctx.remaining()));
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          if (cut_short) co_return DeadlineExceeded("deadline passed during the injected delay");
          if (InjectFailure(options.fail_rate)) co_return InjectedFailure();
          co_return params;
        },
        {.idempotent = true});
  }
  if (!s.ok()) return s;
  return server.SetDefaultMethod("Echo.echo");
}

}  // namespace harpc
