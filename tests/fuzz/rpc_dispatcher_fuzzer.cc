// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The server's request → answer path (server/dispatcher.cc): routing, the
// three call forms (JSON-RPC 2.0 requests, notifications and batches; the
// default method; POST /rpc/<Method>), headers (X-Deadline-Ms,
// Idempotency-Key, X-Request-Id), the idempotency store and the built-in
// endpoints, with a table of methods that echo, fail, throw and answer late.
// An input that is a whole HTTP request is dispatched as it is; any other
// input is the body of a POST /rpc.
#include <algorithm>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "apps/echo_service.h"
#include "fuzz_support.h"
#include "method_session.h"
#include "server/server_state.h"
#include "util/json_params.h"

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace harpc;

namespace {

std::unique_ptr<Server> MakeServer() {
  ServerOptions options;
  options.max_batch_requests = 8;
  options.max_answer_bytes = 64 * 1024;
  options.idempotency_max_entries = 64;
  auto server = std::make_unique<Server>(options);
  Status added = RegisterEchoService(*server);
  // {"code": N, "message": M}: the error with that status code.
  if (added.ok()) {
    added = server->AddMethod("Test.fail", [](const json::value& p, CallContext&) -> Result {
      int64_t code = 0;
      std::string message;
      if (Status s = IntField(p, "code", true, &code); !s.ok()) return s;
      if (Status s = StringField(p, "message", false, &message); !s.ok()) return s;
      if (code < 1 || code >= kStatusCodeCount) return InvalidArgument("\"code\" out of range");
      return Status(static_cast<StatusCode>(code), message);
    });
  }
  if (added.ok()) {
    added = server->AddMethod("Test.throw", [](const json::value&, CallContext&) -> Result {
      throw std::runtime_error("the handler threw");
    });
  }
  // Answers its params after {"ms": N} (at most 5), or DEADLINE_EXCEEDED.
  if (added.ok()) {
    added = server->AddAsyncMethod("Test.later",
                                   [](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
                                     int64_t ms = 0;
                                     if (Status s = IntField(p, "ms", false, &ms); !s.ok()) co_return s;
                                     asio::steady_timer timer(co_await asio::this_coro::executor);
                                     timer.expires_after(std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, 5)));
                                     co_await timer.async_wait(asio::use_awaitable);
                                     co_return p;
                                   },
                                   {.idempotent = true});
  }
  if (added.ok())
    added = server->AddMethod("Test.peer", [](const json::value& p, CallContext&) -> Result { return p; },
                              {.role = Role::kPeer});
  if (!added.ok()) throw std::runtime_error(added.message());
  return server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static asio::io_context context;
  static const std::unique_ptr<Server> server = MakeServer();
  const std::string_view input = fuzz::Bytes(data, size);
  http1::Request request;
  if (!fuzz::ParseRequest(input, &request)) {
    request = http1::Request{http::verb::post, "/rpc", 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::content_type, "application/json");
    request.body() = std::string(input);
    request.prepare_payload();
  }
  fuzz::Dispatch(*server, context, request);
  return 0;
}
