// The channel's state behind harpc::Channel: its event loop, its core and its
// resolver. The naming layer makes resolvers from targets, so the constructor
// Channel(target, options) is defined there (naming/channel_target.cc).
#pragma once

#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/value.hpp>

#include "client/channel_core.h"
#include "client/client_metrics.h"
#include "client/resolver.h"
#include "harpc/channel.h"
#include "util/log.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

class Channel::Impl {
 public:
  // `resolver` and `resolved` are what MakeResolver (naming layer) made of the target.
  Impl(std::string_view target, Status resolved, std::unique_ptr<Resolver> resolver, ChannelOptions options)
      : core_(context_.get_executor(), std::move(options)), resolver_(std::move(resolver)) {
    status_ = resolved.ok() ? Init(target) : resolved;
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

}  // namespace harpc
