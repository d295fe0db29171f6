// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/channel.h"

#include <boost/asio/co_spawn.hpp>

#include "client/channel_impl.h"
#include "client/jsonrpc_batch.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
CallResult Failed(Status status) {
  CallResult r;
  r.status = std::move(status);
  return r;
}
}  // namespace

Channel::~Channel() = default;

const Status& Channel::status() const { return impl_->status(); }

CallResult Channel::Call(std::string_view method, const json::value& params, const CallOptions& options) {
  if (Status s = impl_->BlockingCallRefusal(); !s.ok()) return Failed(std::move(s));
  WireCall wire;
  if (Status s = impl_->core()->Prepare(std::string(method), params, options, &wire); !s.ok()) {
    return Failed(std::move(s));
  }
  return impl_->RunBlocking(std::move(wire), options);
}

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params, CallOptions options) {
  if (!impl_->status().ok()) co_return Failed(impl_->status());
  WireCall wire;
  if (Status s = impl_->core()->Prepare(method, params, options, &wire); !s.ok()) co_return Failed(std::move(s));
  co_return co_await ChannelCore::ExecuteOn(impl_->core(), std::move(wire), std::move(options));
}

asio::awaitable<CallResult> Channel::AsyncCall(std::string method, json::value params) {
  CallOptions defaults;
  return AsyncCall(std::move(method), std::move(params), std::move(defaults));
}

std::vector<CallResult> Channel::CallBatch(const std::vector<BatchCall>& calls, const CallOptions& options) {
  if (Status s = impl_->BlockingCallRefusal(); !s.ok()) return FailEveryCall(calls.size(), s);
  WireCall wire;
  uint64_t first_id = 0;
  if (Status s = impl_->core()->PrepareBatch(calls, options, &wire, &first_id); !s.ok()) {
    return FailEveryCall(calls.size(), s);
  }
  return SplitBatchAnswer(calls, first_id, impl_->RunBlocking(std::move(wire), options));
}

asio::awaitable<std::vector<CallResult>> Channel::AsyncCallBatch(std::vector<BatchCall> calls, CallOptions options) {
  if (!impl_->status().ok()) co_return FailEveryCall(calls.size(), impl_->status());
  WireCall wire;
  uint64_t first_id = 0;
  if (Status s = impl_->core()->PrepareBatch(calls, options, &wire, &first_id); !s.ok()) {
    co_return FailEveryCall(calls.size(), s);
  }
  CallResult batch = co_await ChannelCore::ExecuteOn(impl_->core(), std::move(wire), std::move(options));
  co_return SplitBatchAnswer(calls, first_id, std::move(batch));
}

Status Channel::Notify(std::string_view method, const json::value& params, const CallOptions& options) {
  if (Status s = impl_->BlockingCallRefusal(); !s.ok()) return s;
  WireCall wire;
  if (Status s = impl_->core()->PrepareNotification(std::string(method), params, options, &wire); !s.ok()) return s;
  return impl_->RunBlocking(std::move(wire), options).status;
}

asio::awaitable<Status> Channel::AsyncNotify(std::string method, json::value params, CallOptions options) {
  if (!impl_->status().ok()) co_return impl_->status();
  WireCall wire;
  if (Status s = impl_->core()->PrepareNotification(method, params, options, &wire); !s.ok()) co_return s;
  CallResult r = co_await ChannelCore::ExecuteOn(impl_->core(), std::move(wire), std::move(options));
  co_return r.status;
}

std::vector<EndpointInfo> Channel::Endpoints() const {
  return impl_->OnLoop([core = impl_->core()] { return core->Snapshot(); });
}

Channel::Counters Channel::counters() const { return impl_->core()->counters(); }

asio::any_io_executor Channel::executor() const { return impl_->core()->executor(); }

}  // namespace harpc
