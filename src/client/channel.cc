#include "harpc/channel.h"

#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "balance/load_balancer.h"
#include "client/endpoint.h"
#include "client/http_exchange.h"
#include "naming/target.h"
#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class Channel::Impl {
 public:
  Impl(std::string_view target, ChannelOptions options) : options_(std::move(options)) {
    status_ = Init(target);
    thread_ = std::thread([this] { context_.run(); });
    loop_thread_id_ = thread_.get_id();
  }

  ~Impl() {
    work_.reset();
    context_.stop();
    thread_.join();
  }

  const Status& status() const { return status_; }
  asio::any_io_executor executor() { return context_.get_executor(); }
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }

  std::vector<EndpointInfo> Endpoints() const {
    std::vector<EndpointInfo> out;
    for (const auto& e : endpoints_) {
      out.push_back({.address = e->address(),
                     .weight = e->weight(),
                     .picks = e->picks.load(),
                     .successes = e->successes.load(),
                     .failures = e->failures.load()});
    }
    return out;
  }

  // Runs on the loop thread. Tries endpoints until one answers, the deadline
  // passes, or the retries are spent; only failures that certainly did not
  // reach a server are retried. The arguments outlive the coroutine (callers
  // keep them in their own frames): by-value class parameters of coroutines
  // are destroyed twice by GCC 12.
  asio::awaitable<CallResult> DoCall(const std::string& method, const json::value& params,
                                     const CallOptions& call) {
    CallResult result;
    if (!status_.ok()) {
      result.status = status_;
      co_return result;
    }
    const auto timeout = call.timeout.count() > 0 ? call.timeout : options_.timeout;
    const auto deadline = Clock::now() + timeout;
    const std::string body = params.is_null() && method != "/" ? std::string() : json::serialize(params);
    std::vector<const Endpoint*> excluded;

    for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
      Endpoint* endpoint = balancer_->Pick({.excluded = &excluded});
      if (!endpoint) endpoint = balancer_->Pick({});  // all tried: any will do
      if (!endpoint) {
        result.status = Unavailable("no endpoint to call");
        break;
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        result.status = DeadlineExceeded("deadline of " + std::to_string(timeout.count()) +
                                         " ms passed after " + std::to_string(result.attempts) + " attempts");
        break;
      }
      ++result.attempts;
      endpoint->picks.fetch_add(1, std::memory_order_relaxed);
      AttemptOutcome outcome = co_await Attempt(*endpoint, method, body, call, deadline);
      const bool success = outcome.stage == AttemptStage::kAnswered &&
                           outcome.status.code() != StatusCode::kUnavailable &&
                           outcome.status.code() != StatusCode::kInternal;
      (success ? endpoint->successes : endpoint->failures).fetch_add(1, std::memory_order_relaxed);
      balancer_->Feedback(*endpoint, {.latency = std::chrono::duration_cast<std::chrono::microseconds>(
                                          Clock::now() - now),
                                      .success = success});
      result.status = std::move(outcome.status);
      result.value = std::move(outcome.value);
      result.endpoint = endpoint->address();
      if (outcome.stage != AttemptStage::kNotSent ||
          result.status.code() == StatusCode::kDeadlineExceeded) {
        break;
      }
      excluded.push_back(endpoint);
    }
    if (!result.ok()) result.value = nullptr;
    co_return result;
  }

 private:
  Status Init(std::string_view target) {
    if (options_.timeout.count() <= 0) return InvalidArgument("timeout must be positive");
    if (options_.connect_timeout.count() <= 0) return InvalidArgument("connect_timeout must be positive");
    if (options_.max_retries < 0) return InvalidArgument("max_retries must not be negative");
    std::vector<EndpointSpec> specs;
    if (Status s = ParseListTarget(target, &specs); !s.ok()) return s;
    if (Status s = MakeLoadBalancer(options_.lb, &balancer_); !s.ok()) return s;
    for (EndpointSpec& spec : specs) {
      HostPort hp;
      asio::ip::tcp::endpoint resolved;
      if (Status s = ParseHostPort(spec.address, &hp); !s.ok()) return s;
      if (Status s = ResolveEndpoint(hp, &resolved); !s.ok()) return s;
      endpoints_.push_back(std::make_shared<Endpoint>(std::move(spec), resolved, context_.get_executor(),
                                                      options_.max_idle_connections));
    }
    balancer_->Update(endpoints_);
    return Status::Ok();
  }

  asio::awaitable<AttemptOutcome> Attempt(Endpoint& endpoint, const std::string& method,
                                          const std::string& body, const CallOptions& call,
                                          Clock::time_point deadline) {
    std::unique_ptr<ClientConnection> connection;
    Status s = co_await endpoint.pool().Acquire(&connection, deadline, options_.connect_timeout);
    if (!s.ok()) co_return AttemptOutcome{.status = std::move(s), .stage = AttemptStage::kNotSent};

    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    RequestHeaders headers{.deadline_in = std::max(left, std::chrono::milliseconds(1)),
                           .idempotency_key = call.idempotency_key,
                           .request_id = call.request_id};
    std::string request = FormatRequest(endpoint.address(), method, body, headers);
    AttemptOutcome outcome = co_await Exchange(*connection, request, deadline, options_.max_response_bytes);
    if (outcome.reusable) endpoint.pool().Release(std::move(connection));
    co_return outcome;
  }

  ChannelOptions options_;
  Status status_;
  asio::io_context context_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(context_);
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::unique_ptr<LoadBalancer> balancer_;
  std::thread thread_;
  std::thread::id loop_thread_id_;
};

Channel::Channel(std::string_view target, ChannelOptions options)
    : impl_(std::make_unique<Impl>(target, std::move(options))) {}
Channel::~Channel() = default;

const Status& Channel::status() const { return impl_->status(); }

CallResult Channel::Call(std::string_view method, const json::value& params, const CallOptions& options) {
  if (impl_->OnLoopThread()) {
    return {.status = {StatusCode::kFailedPrecondition,
                       "Channel::Call on the channel's own event loop would deadlock; use AsyncCall"}};
  }
  std::promise<CallResult> promise;
  auto future = promise.get_future();
  const std::string method_name(method);  // outlives the call: future.get() below waits
  asio::co_spawn(impl_->executor(), impl_->DoCall(method_name, params, options),
                 [&promise](std::exception_ptr e, CallResult r) {
                   if (e) r.status = Internal("call failed with an exception");
                   promise.set_value(std::move(r));
                 });
  return future.get();
}

namespace {
// Hops to the channel's loop unless already there.
asio::awaitable<CallResult> RunOnChannelLoop(Channel::Impl* impl, std::string method, json::value params,
                                             CallOptions options) {
  auto caller = co_await asio::this_coro::executor;
  if (caller == impl->executor()) co_return co_await impl->DoCall(method, params, options);
  co_return co_await asio::co_spawn(impl->executor(), impl->DoCall(method, params, options),
                                    asio::use_awaitable);
}
}  // namespace

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params, CallOptions options) {
  return RunOnChannelLoop(impl_.get(), std::move(method), std::move(params), std::move(options));
}

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params) {
  CallOptions defaults;
  return RunOnChannelLoop(impl_.get(), std::move(method), std::move(params), std::move(defaults));
}

std::vector<EndpointInfo> Channel::Endpoints() const { return impl_->Endpoints(); }
asio::any_io_executor Channel::executor() const { return impl_->executor(); }

}  // namespace harpc
