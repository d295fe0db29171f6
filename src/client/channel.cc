#include "util/log.h"
#include "harpc/channel.h"

#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "client/channel_impl.h"
#include "client/client_metrics.h"

#include <spdlog/spdlog.h>

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;


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
  asio::co_spawn(impl_->executor(), impl_->Execute(method_name, params, options),
                 [&promise](std::exception_ptr e, CallResult r) {
                   if (e) r.status = Internal("call failed with an exception");
                   promise.set_value(std::move(r));
                 });
  return future.get();
}

namespace {
// Hops to the channel's loop unless already there. The by-value parameters
// live in this frame while Execute, which takes them by reference, runs.
asio::awaitable<CallResult> RunOnChannelLoop(Channel::Impl* impl, std::string method, json::value params,
                                             CallOptions options) {
  auto caller = co_await asio::this_coro::executor;
  if (caller == impl->executor()) co_return co_await impl->Execute(method, params, options);
  co_return co_await asio::co_spawn(impl->executor(), impl->Execute(method, params, options),
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

std::vector<EndpointInfo> Channel::Endpoints() const {
  return impl_->OnLoop([this] { return impl_->core().Snapshot(); });
}

Channel::Counters Channel::counters() const { return impl_->core().counters(); }

asio::any_io_executor Channel::executor() const { return impl_->executor(); }

}  // namespace harpc
