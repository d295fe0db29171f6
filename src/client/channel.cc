#include "harpc/channel.h"

#include <future>

#include <boost/asio/co_spawn.hpp>

#include "client/channel_impl.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

Channel::~Channel() = default;

const Status& Channel::status() const { return impl_->status(); }

CallResult Channel::Call(std::string_view method, const json::value& params, const CallOptions& options) {
  if (!impl_->status().ok()) return {.status = impl_->status()};
  if (impl_->OnLoopThread()) {
    return {.status = {StatusCode::kFailedPrecondition,
                       "Channel::Call on the channel's own event loop would deadlock; use AsyncCall"}};
  }
  std::promise<CallResult> promise;
  auto future = promise.get_future();
  asio::co_spawn(impl_->core()->executor(),
                 ChannelCore::ExecuteOn(impl_->core(), std::string(method), params, options),
                 [&promise](std::exception_ptr e, CallResult r) {
                   if (e) r.status = Internal("call failed with an exception");
                   promise.set_value(std::move(r));
                 });
  return future.get();
}

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params, CallOptions options) {
  if (!impl_->status().ok()) {
    CallResult failed;
    failed.status = impl_->status();
    co_return failed;
  }
  co_return co_await ChannelCore::ExecuteOn(impl_->core(), std::move(method), std::move(params), std::move(options));
}

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params) {
  CallOptions defaults;
  return AsyncCall(std::move(method), std::move(params), std::move(defaults));
}

std::vector<EndpointInfo> Channel::Endpoints() const {
  return impl_->OnLoop([core = impl_->core()] { return core->Snapshot(); });
}

Channel::Counters Channel::counters() const { return impl_->core()->counters(); }

asio::any_io_executor Channel::executor() const { return impl_->core()->executor(); }

}  // namespace harpc
