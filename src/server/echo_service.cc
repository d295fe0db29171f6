#include "server/echo_service.h"

#include "util/fault_injection.h"

#include <atomic>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
Status InjectedFailure() { return Unavailable("injected failure (--fail-rate)"); }
}  // namespace

Status RegisterEchoService(Server& server, EchoServiceOptions options) {
  Status s;
  if (options.delay.count() <= 0) {
    s = server.AddMethod(
        "Echo.echo",
        [options](const json::value& params, CallContext&) -> Result {
          if (InjectFault(options.fail_rate)) return InjectedFailure();
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
          if (InjectFault(options.fail_rate)) co_return InjectedFailure();
          co_return params;
        },
        {.idempotent = true});
  }
  if (!s.ok()) return s;
  if (s = server.SetDefaultMethod("Echo.echo"); !s.ok()) return s;

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
  return server.AddMethod("Counter.get", [counter](const json::value&, CallContext&) -> Result {
    return json::value{{"value", counter->load()}};
  }, {.idempotent = true});
}

}  // namespace harpc
