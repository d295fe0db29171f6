// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// etcd v3 registrar and resolver over etcd's JSON gateway. The protocol and
// the key layout are described in etcd.h, the gateway's answers and their
// decoding in etcd_gateway.h.
#include "naming/etcd.h"
#include "naming/etcd_gateway.h"
#include "util/log.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "http/client.h"
#include "naming/etcd_client.h"
#include "util/address.h"
#include "util/stop_signal.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

std::string EtcdInstanceKey(std::string_view service, std::string_view address) {
  std::string key(kEtcdServicesPrefix);
  key += service;
  key += '/';
  key += address;
  return key;
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kRequestTimeout{2000};  // a member's time for one range or watch start, connect included
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{2000};
constexpr size_t kMaxWatchMessageBytes = 64 * 1024 * 1024;
constexpr milliseconds kProbeInterval{2000};  // while watching: is the member still answering?
constexpr milliseconds kProbeTimeout{1000};

// The first key after every key that starts with `prefix` (etcd's range_end).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<uint8_t>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// The request of a range over `prefix`.
json::object RangeRequest(const std::string& prefix) {
  json::object request;
  request["key"] = Base64Encode(prefix);
  request["range_end"] = Base64Encode(PrefixEnd(prefix));
  return request;
}

asio::awaitable<Status> RangeMembers(EtcdClient& etcd, const std::string& prefix, EtcdMembers* members,
                                     int64_t* revision) {
  const std::string body = json::serialize(RangeRequest(prefix));
  json::value answer;
  Status s = co_await etcd.Call("/v3/kv/range", body, kRequestTimeout, &answer);
  if (!s.ok()) co_return s;
  co_return ParseEtcdRange(answer, prefix, "etcd " + etcd.current() + " /v3/kv/range", members, revision);
}

Status CheckServiceName(std::string_view service) {
  if (service.empty()) return InvalidArgument("etcd: the service name is empty");
  if (service.find('/') != std::string_view::npos) {
    return InvalidArgument("etcd: service name '" + std::string(service) + "' must not contain '/'");
  }
  return Status::Ok();
}

// ============================================================== registrar

struct RegistrarState {
  std::shared_ptr<EtcdClient> etcd;
  std::string key;
  std::string value;  // JSON
  int64_t ttl_seconds = 3;
  milliseconds interval{1000};    // between keepalives
  milliseconds per_member{1000};  // a member's time to answer one request
  // On the loop only.
  StopSignal renewal;  // RunRegistrar
  int64_t lease = 0;   // the lease granted (the key is or will be stored with it); 0: none
};

asio::awaitable<Status> GrantLease(RegistrarState& st, int64_t* lease) {
  json::object request;
  request["TTL"] = st.ttl_seconds;
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await st.etcd->Call("/v3/lease/grant", body, st.per_member, &answer);
  if (!s.ok()) co_return s;
  *lease = EtcdInt(answer, "ID");
  if (*lease == 0) co_return Unavailable("etcd " + st.etcd->current() + " granted no lease");
  co_return Status::Ok();
}

asio::awaitable<Status> PutKey(RegistrarState& st, int64_t lease) {
  json::object request;
  request["key"] = Base64Encode(st.key);
  request["value"] = Base64Encode(st.value);
  request["lease"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  co_return co_await st.etcd->Call("/v3/kv/put", body, st.per_member, &answer);
}

// *ttl: the lease's remaining TTL after the refresh; 0 when the lease is gone.
asio::awaitable<Status> KeepLeaseAlive(RegistrarState& st, int64_t lease, int64_t* ttl) {
  json::object request;
  request["ID"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await st.etcd->Call("/v3/lease/keepalive", body, st.per_member, &answer);
  if (s.code() == StatusCode::kNotFound) {
    *ttl = 0;
    co_return Status::Ok();
  }
  if (!s.ok()) co_return s;
  *ttl = EtcdInt(answer, "TTL");
  co_return Status::Ok();
}

asio::awaitable<Status> RevokeLease(RegistrarState& st, int64_t lease, milliseconds per_member) {
  json::object request;
  request["ID"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await st.etcd->Call("/v3/lease/revoke", body, per_member, &answer);
  if (s.code() == StatusCode::kNotFound) co_return Status::Ok();  // already gone: so is the key
  co_return s;
}

// Registers and renews until it is cancelled (Deregister, ~EtcdRegistrar),
// which also cancels the request in flight; a lease granted meanwhile expires.
asio::awaitable<void> RunRegistrar(std::shared_ptr<RegistrarState> st) {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer wake(co_await asio::this_coro::executor);
  int64_t lease = 0;  // 0: none granted
  bool put = false;   // the key is stored with `lease`
  std::string last_error;
  const milliseconds retry = std::min(st->interval, milliseconds(500));
  for (;;) {
    Status s;
    if (lease == 0) {
      int64_t granted = 0;
      s = co_await GrantLease(*st, &granted);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok()) {
        lease = granted;
        put = false;
        st->lease = lease;  // revoked by Deregister even before the put lands (the revoke deletes the key)
      }
    } else if (put) {
      int64_t ttl = 0;
      s = co_await KeepLeaseAlive(*st, lease, &ttl);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok() && ttl <= 0) {
        Log().warn("etcd {}: lease {:x} of {} is gone (expired or lost); registering again", st->etcd->current(), lease,
                   st->key);
        lease = 0;
        put = false;
        st->lease = 0;
        continue;  // grant a new one at once
      }
    }
    if (s.ok() && lease != 0 && !put) {
      s = co_await PutKey(*st, lease);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok()) {
        put = true;
        Log().info("registered {} on etcd {} (lease {:x}, TTL {} s)", st->key, st->etcd->current(), lease,
                   st->ttl_seconds);
      } else if (s.code() == StatusCode::kNotFound) {
        lease = 0;  // the lease expired before the put
        st->lease = 0;
      }
    }
    if (!s.ok()) {
      if (s.message() != last_error) Log().warn("{}; retrying", s.message());
      last_error = s.message();
    } else if (!last_error.empty()) {
      Log().info("etcd {} answers again", st->etcd->current());
      last_error.clear();
    }
    wake.expires_after(s.ok() ? st->interval : retry);
    co_await wake.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
  }
}

class EtcdRegistrar final : public Registrar {
 public:
  EtcdRegistrar(std::shared_ptr<EtcdClient> etcd, const Registration& registration)
      : state_(std::make_shared<RegistrarState>()) {
    RegistrarState& st = *state_;
    st.etcd = std::move(etcd);
    st.key = EtcdInstanceKey(registration.service, registration.address);
    json::object value;
    value["address"] = registration.address;
    value["name"] = registration.name.empty() ? registration.address : registration.name;
    value["weight"] = registration.weight;
    value["metadata"] = registration.metadata;
    st.value = json::serialize(value);
    const int64_t ms = std::max<int64_t>(0, registration.ttl.count());
    st.ttl_seconds = std::max<int64_t>(2, (ms + 999) / 1000);
    st.interval = milliseconds(st.ttl_seconds * 1000 / 3);
    // A hung member must not hold a keepalive past the lease's end: the next
    // member gets the request while the lease still has a third of its TTL.
    st.per_member = std::clamp(st.interval, milliseconds(500), kRequestTimeout);
  }

  // Only post's allocation can throw: out of memory here ends the process either way.
  ~EtcdRegistrar() override {  // NOLINT(bugprone-exception-escape)
    if (loop_) asio::post(loop_, [st = state_] { st->renewal.Stop(); });
  }

  void Start(asio::any_io_executor loop) override {
    if (loop_) return;
    loop_ = loop;
    asio::post(loop, [loop, st = state_] { st->renewal.Spawn(loop, RunRegistrar(st)); });
  }

  asio::awaitable<void> Deregister() override {
    if (!loop_) co_return;
    std::shared_ptr<RegistrarState> st = state_;
    st->renewal.Stop();
    const int64_t lease = std::exchange(st->lease, 0);
    if (lease == 0) co_return;
    // Revoking the lease deletes the key at once. kDeregisterTimeout in all:
    // shared by the members tried.
    const milliseconds per_member(std::max<int64_t>(
        200, kDeregisterTimeout.count() / static_cast<int64_t>(std::max<size_t>(1, st->etcd->size()))));
    Status s = co_await RevokeLease(*st, lease, per_member);
    if (s.ok()) {
      Log().info("deregistered {} from etcd {}", st->key, st->etcd->current());
    } else {
      Log().warn("could not deregister {} from etcd: {}; it goes when its lease expires ({} s)", st->key, s.message(),
                 st->ttl_seconds);
    }
  }

 private:
  std::shared_ptr<RegistrarState> state_;
  asio::any_io_executor loop_;
};

// =============================================================== resolver

struct ResolverState {
  ResolverState(std::shared_ptr<EtcdClient> e, std::string svc)
      : etcd(std::move(e)), service(std::move(svc)), prefix(EtcdInstanceKey(service, "")) {}
  std::shared_ptr<EtcdClient> etcd;
  std::string service;
  std::string prefix;  // "/harpc/services/<service>/"
  Resolver::Listener listener;
  EtcdMembers members;
  int64_t revision = 0;  // of `members`; 0: range again before watching
  std::optional<std::vector<EndpointSpec>> published;
  Status last_error;  // of the last round that failed; OK once one succeeded
};

// Hands the listener the membership when it differs from the last one handed.
void Publish(ResolverState& st) {
  std::vector<EndpointSpec> specs;
  std::set<std::string> seen;
  for (const auto& [key, spec] : st.members) {
    if (seen.insert(spec.address).second) specs.push_back(spec);
  }
  if (st.published && *st.published == specs) return;
  st.published = specs;
  Log().info("etcd {}: service {} has {} endpoint(s)", st.etcd->current(), st.service, specs.size());
  if (st.listener) st.listener(std::move(specs));
}

// Applies one message of the watch stream.
Status HandleWatchMessage(ResolverState& st, std::string_view line, bool* established) {
  EtcdWatchUpdate update;
  Status s = ApplyEtcdWatchMessage(line, st.prefix, "etcd " + st.etcd->current() + " /v3/watch", &st.members, &update);
  if (update.created) *established = true;
  if (!s.ok() || !update.events) return s;
  if (update.revision > 0) st.revision = update.revision;
  Publish(st);
  return Status::Ok();
}

// Reads the watch stream until it ends; the reason it ended.
asio::awaitable<Status> ReadWatch(ResolverState& st, http1::StreamingResponse& response, bool* established) {
  const auto handle = [&](std::string_view line) { return HandleWatchMessage(st, line, established); };
  for (;;) {
    if (Status s = ConsumeEtcdWatchLines(response.body(), response.done(), handle); !s.ok()) co_return s;
    const std::string what = "etcd " + st.etcd->current() + " /v3/watch";
    if (response.done()) co_return Unavailable(what + ": etcd ended the stream");
    beast::error_code rec = co_await response.ReadSome();
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return Status(StatusCode::kCancelled, "stopped");
    if (rec == http::error::body_limit) co_return Unavailable(what + ": message too large");
    if (rec) co_return Unavailable(what + ": stream broke: " + rec.message());
  }
}

// While the watch runs: asks the member it runs on, every kProbeInterval,
// whether it still answers (a stopped member keeps the stream open and
// silent). Returns why it does not.
asio::awaitable<Status> ProbeMember(ResolverState& st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  json::object request = RangeRequest(st.prefix);
  request["count_only"] = true;
  request["serializable"] = true;  // answered by the member itself: no consensus round
  const std::string body = json::serialize(request);
  for (;;) {
    timer.expires_after(kProbeInterval);
    co_await timer.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return Status(StatusCode::kCancelled, "stopped");
    json::value answer;
    Status s = co_await st.etcd->CallCurrent("/v3/kv/range", body, Clock::now() + kProbeTimeout, &answer);
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return Status(StatusCode::kCancelled, "stopped");
    if (!s.ok()) co_return Status(s.code(), s.message() + " (the watch's liveness probe)");
  }
}

// Watches the prefix from st.revision + 1 on the current member until the
// stream ends or the member stops answering; the reason.
asio::awaitable<Status> Watch(ResolverState& st, bool* established) {
  using namespace asio::experimental::awaitable_operators;
  json::object create = RangeRequest(st.prefix);
  create["start_revision"] = std::to_string(st.revision + 1);
  json::object body;
  body["create_request"] = std::move(create);
  http1::ClientConnection connection(co_await asio::this_coro::executor);
  http1::StreamingResponse response(connection, kMaxWatchMessageBytes);
  const std::string request = json::serialize(body);
  Status s = co_await st.etcd->OpenStream(connection, response, "/v3/watch", request, Clock::now() + kRequestTimeout);
  if (!s.ok()) co_return s;
  // Whichever ends first cancels the other.
  asio::awaitable<Status> read = ReadWatch(st, response, established);
  asio::awaitable<Status> probe = ProbeMember(st);
  auto ended = co_await (std::move(read) || std::move(probe));
  co_return std::visit([](Status& why) { return std::move(why); }, ended);
}

// Ranges and watches until it is cancelled (EtcdResolver::Stop), which also
// cancels the range or watch in flight.
asio::awaitable<void> RunResolver(std::shared_ptr<ResolverState> st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  milliseconds backoff = kMinBackoff;
  for (;;) {
    Status s;
    if (st->revision == 0) {
      EtcdMembers members;
      int64_t revision = 0;
      s = co_await RangeMembers(*st->etcd, st->prefix, &members, &revision);
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (s.ok()) {
        st->members = std::move(members);
        st->revision = revision;
        if (!st->last_error.ok()) Log().info("etcd {} answers again", st->etcd->current());
        st->last_error = Status::Ok();
        Publish(*st);
      }
    }
    if (s.ok()) {
      bool established = false;
      s = co_await Watch(*st, &established);
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (established) backoff = kMinBackoff;
      st->revision = 0;  // range afresh: events may have been missed
      st->etcd->StreamEnded(s);
    }
    if (s.message() != st->last_error.message()) {
      Log().warn("{}; service {} keeps its last {} endpoint(s) meanwhile", s.message(), st->service,
                 st->published ? st->published->size() : 0);
    }
    st->last_error = s;
    timer.expires_after(backoff);
    co_await timer.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

class EtcdResolver final : public Resolver {
 public:
  EtcdResolver(std::shared_ptr<EtcdClient> etcd, std::string service)
      : etcd_(std::move(etcd)), service_(std::move(service)) {}
  void Start(asio::any_io_executor executor, Listener listener) override {
    if (state_) return;
    state_ = std::make_shared<ResolverState>(etcd_, service_);
    state_->listener = std::move(listener);
    watch_.Spawn(executor, RunResolver(state_));
  }

  // On the loop the resolver was started on.
  void Stop() override {
    if (state_) state_->listener = nullptr;
    watch_.Stop();
  }

  Status WhyNoMembership() const override {
    if (!state_ || state_->published) return Status::Ok();
    if (state_->last_error.ok()) return Unavailable("no answer from etcd at " + etcd_->members() + " yet");
    return state_->last_error;
  }

 private:
  std::shared_ptr<EtcdClient> etcd_;
  std::string service_;
  std::shared_ptr<ResolverState> state_;
  StopSignal watch_;
};

// "etcd://H:P[,H:P]" → "H:P[,H:P]".
std::string_view MemberList(std::string_view spec) {
  if (spec.starts_with("etcd://")) spec.remove_prefix(7);
  return spec;
}

}  // namespace

Status MakeEtcdRegistrar(std::string_view spec, const Registration& registration, const ClientSecurity& security,
                         std::unique_ptr<Registrar>* out) {
  const std::string usage = " (expected etcd://H:P[,H:P])";
  std::string_view list = MemberList(spec);
  if (list.find('/') != std::string_view::npos) {
    return InvalidArgument("register target '" + std::string(spec) +
                           "' must not name a service (expected etcd://H:P[,H:P]; the service is --service)");
  }
  if (Status s = EtcdClient::CheckAccess(security.etcd); !s.ok()) return s;
  std::shared_ptr<EtcdClient> etcd;
  if (Status s = EtcdClient::Make(list, security, &etcd); !s.ok()) {
    return InvalidArgument(s.message() + " in '" + std::string(spec) + "'" + usage);
  }
  if (Status s = CheckServiceName(registration.service); !s.ok()) return s;
  // Port 0 passes: `harpc serve` checks its flags before it binds (the real port comes later).
  HostPort hp;
  if (Status s = ParseHostPort(registration.address, &hp, /*allow_port_zero=*/true); !s.ok()) return s;
  *out = std::make_unique<EtcdRegistrar>(std::move(etcd), registration);
  return Status::Ok();
}

Status MakeEtcdResolver(std::string_view target, const ClientSecurity& security, std::unique_ptr<Resolver>* out) {
  const std::string usage = " (expected etcd://H:P[,H:P]/SERVICE)";
  std::string_view rest = MemberList(target);
  const auto slash = rest.find('/');
  std::string_view service = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (service.empty()) return InvalidArgument("etcd target '" + std::string(target) + "' names no service" + usage);
  if (service.find('/') != std::string_view::npos) {
    return InvalidArgument("bad service name '" + std::string(service) + "' in '" + std::string(target) + "'" + usage);
  }
  if (Status s = EtcdClient::CheckAccess(security.etcd); !s.ok()) return s;
  std::shared_ptr<EtcdClient> etcd;
  if (Status s = EtcdClient::Make(rest.substr(0, slash), security, &etcd); !s.ok()) {
    return InvalidArgument(s.message() + " in '" + std::string(target) + "'" + usage);
  }
  *out = std::make_unique<EtcdResolver>(std::move(etcd), std::string(service));
  return Status::Ok();
}

}  // namespace harpc
