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

#include "client/channel_core.h"
#include "client/client_metrics.h"
#include "naming/resolver.h"

#include <spdlog/spdlog.h>

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

class Channel::Impl {
 public:
  Impl(std::string_view target, ChannelOptions options) : core_(context_.get_executor(), std::move(options)) {
    status_ = Init(target);
    thread_ = std::thread([this] { context_.run(); });
    loop_thread_id_ = thread_.get_id();
    if (status_.ok()) {
      metrics_id_ = RegisterChannel({.target = std::string(target),
                                     .endpoints = [this] { return OnLoop([this] { return core_.Snapshot(); }); },
                                     .counters = [this] { return core_.counters(); }});
    }
  }

  ~Impl() {
    if (metrics_id_) UnregisterChannel(metrics_id_);
    if (resolver_) OnLoop([this] { resolver_->Stop(); return 0; });
    work_.reset();
    context_.stop();
    thread_.join();
  }

  const Status& status() const { return status_; }
  asio::any_io_executor executor() { return context_.get_executor(); }
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }
  ChannelCore& core() { return core_; }

  asio::awaitable<CallResult> Execute(const std::string& method, const json::value& params,
                                      const CallOptions& options) {
    if (!status_.ok()) co_return CallResult{.status = status_};
    co_return co_await core_.Execute(method, params, options);
  }

  // Runs `fn` on the loop and returns its result (inline when already there).
  template <typename Fn>
  std::invoke_result_t<Fn> OnLoop(Fn fn) {
    if (OnLoopThread()) return fn();
    std::promise<std::invoke_result_t<Fn>> promise;
    asio::post(context_, [&] { promise.set_value(fn()); });
    return promise.get_future().get();
  }

 private:
  Status Init(std::string_view target) {
    if (Status s = core_.Init(target); !s.ok()) return s;
    if (Status s = MakeResolver(target, &resolver_); !s.ok()) return s;
    // Before the loop runs, so that a list:// membership is there for the first call.
    // `first` is shared: resolvers that answer later (file://, sentinel://)
    // call the listener on the loop after Init returned.
    auto first = std::make_shared<Status>();
    resolver_->Start(context_.get_executor(), [this, first, started = false](std::vector<EndpointSpec> specs) mutable {
      Status s = core_.UpdateEndpoints(std::move(specs));
      if (!started) *first = s;
      started = true;
      if (!s.ok()) Log().warn("membership update rejected: {}", s.ToString());
    });
    return *first;
  }

  // Declared first so that it is destroyed last (see ~Impl and ChannelCore).
  asio::io_context context_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(context_);
  ChannelCore core_;
  std::unique_ptr<Resolver> resolver_;
  Status status_;
  std::thread thread_;
  std::thread::id loop_thread_id_;
  uint64_t metrics_id_ = 0;
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
