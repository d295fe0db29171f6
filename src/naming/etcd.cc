// etcd v3 registrar and resolver over etcd's JSON gateway. The protocol and
// the key layout are described in etcd.h, the gateway's answers and their
// decoding in etcd_gateway.h.
#include "util/log.h"
#include "naming/etcd.h"
#include "naming/etcd_gateway.h"

#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "http/client.h"
#include "http/request.h"
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
constexpr milliseconds kRequestTimeout{2000};      // one unary gateway call, connect included
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{2000};
constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;
constexpr size_t kMaxWatchMessageBytes = 64 * 1024 * 1024;

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

// --- one gateway call

struct EtcdAddress {
  asio::ip::tcp::endpoint endpoint;
  std::string host_port;  // as the user wrote it: Host header and messages
  TlsOptions tls;         // every connection to etcd (Post, Watch)
};

std::string Describe(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// "POST path" with a JSON body to etcd.
std::string FormatPost(const EtcdAddress& etcd, std::string_view path, std::string_view body, bool close) {
  std::string request;
  http1::AppendRequestLine(request, "POST", path, etcd.host_port);
  if (close) http1::AppendHeader(request, "Connection", "close");
  http1::AppendBody(request, "application/json", body);
  return request;
}

// POSTs `body` to `path` on a fresh connection and parses the JSON answer
// (unwrapping a stream's {"result": ...}).
asio::awaitable<Status> Post(const EtcdAddress& etcd, std::string_view path, const std::string& body,
                             Clock::time_point deadline, json::value* out) {
  const std::string what = "etcd " + etcd.host_port + " " + std::string(path);
  http1::ClientConnection connection(co_await asio::this_coro::executor);
  if (auto ec = co_await connection.stream.Connect(etcd.endpoint, deadline, etcd.tls)) {
    co_return Unavailable(what + ": connect: " + Describe(ec));
  }
  http1::ClientResponse response = co_await http1::Exchange(connection, FormatPost(etcd, path, body, true),
                                                            deadline, {.body_bytes = kMaxResponseBytes});
  if (response.error) {
    co_return Unavailable(what + (response.sent ? ": " : ": send: ") + Describe(response.error));
  }
  connection.stream.ShutdownSend();
  co_return ParseEtcdAnswer(response.status, response.body, what, out);
}

asio::awaitable<Status> RangeMembers(const EtcdAddress& etcd, const std::string& prefix, Clock::time_point deadline,
                                     EtcdMembers* members, int64_t* revision) {
  json::object request;
  request["key"] = Base64Encode(prefix);
  request["range_end"] = Base64Encode(PrefixEnd(prefix));
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await Post(etcd, "/v3/kv/range", body, deadline, &answer);
  if (!s.ok()) co_return s;
  co_return ParseEtcdRange(answer, prefix, "etcd " + etcd.host_port + " /v3/kv/range", members, revision);
}

Status ParseEtcdAddress(std::string_view host_port, EtcdAddress* out) {
  if (host_port.starts_with("etcd://")) host_port.remove_prefix(7);
  while (host_port.ends_with('/')) host_port.remove_suffix(1);
  HostPort hp;
  if (Status s = ParseHostPort(host_port, &hp); !s.ok()) return s;
  if (Status s = ResolveEndpoint(hp, &out->endpoint); !s.ok()) return s;
  out->host_port = std::string(host_port);
  return Status::Ok();
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
  EtcdAddress etcd;
  std::string key;
  std::string value;  // JSON
  int64_t ttl_seconds = 3;
  milliseconds interval{1000};  // between keepalives
  // On the loop only.
  StopSignal renewal;  // RunRegistrar
  int64_t lease = 0;   // the lease granted (the key is or will be stored with it); 0: none
};

asio::awaitable<Status> GrantLease(RegistrarState& st, Clock::time_point deadline, int64_t* lease) {
  json::object request;
  request["TTL"] = st.ttl_seconds;
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await Post(st.etcd, "/v3/lease/grant", body, deadline, &answer);
  if (!s.ok()) co_return s;
  *lease = EtcdInt(answer, "ID");
  if (*lease == 0) co_return Unavailable("etcd " + st.etcd.host_port + " granted no lease");
  co_return Status::Ok();
}

asio::awaitable<Status> PutKey(RegistrarState& st, int64_t lease, Clock::time_point deadline) {
  json::object request;
  request["key"] = Base64Encode(st.key);
  request["value"] = Base64Encode(st.value);
  request["lease"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  co_return co_await Post(st.etcd, "/v3/kv/put", body, deadline, &answer);
}

// *ttl: the lease's remaining TTL after the refresh; 0 when the lease is gone.
asio::awaitable<Status> KeepLeaseAlive(RegistrarState& st, int64_t lease, Clock::time_point deadline, int64_t* ttl) {
  json::object request;
  request["ID"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await Post(st.etcd, "/v3/lease/keepalive", body, deadline, &answer);
  if (s.code() == StatusCode::kNotFound) {
    *ttl = 0;
    co_return Status::Ok();
  }
  if (!s.ok()) co_return s;
  *ttl = EtcdInt(answer, "TTL");
  co_return Status::Ok();
}

asio::awaitable<Status> RevokeLease(RegistrarState& st, int64_t lease, Clock::time_point deadline) {
  json::object request;
  request["ID"] = std::to_string(lease);
  const std::string body = json::serialize(request);
  json::value answer;
  Status s = co_await Post(st.etcd, "/v3/lease/revoke", body, deadline, &answer);
  if (s.code() == StatusCode::kNotFound) co_return Status::Ok();  // already gone: so is the key
  co_return s;
}

// Registers and renews until it is cancelled (Deregister, ~EtcdRegistrar),
// which also cancels the request in flight; a lease granted meanwhile expires.
asio::awaitable<void> RunRegistrar(std::shared_ptr<RegistrarState> st) {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer wake(co_await asio::this_coro::executor);
  int64_t lease = 0;     // 0: none granted
  bool put = false;      // the key is stored with `lease`
  std::string last_error;
  const milliseconds retry = std::min(st->interval, milliseconds(500));
  for (;;) {
    Status s;
    const Clock::time_point deadline = Clock::now() + kRequestTimeout;
    if (lease == 0) {
      int64_t granted = 0;
      s = co_await GrantLease(*st, deadline, &granted);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok()) {
        lease = granted;
        put = false;
        st->lease = lease;  // revoked by Deregister even before the put lands (the revoke deletes the key)
      }
    } else if (put) {
      int64_t ttl = 0;
      s = co_await KeepLeaseAlive(*st, lease, deadline, &ttl);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok() && ttl <= 0) {
        Log().warn("etcd {}: lease {:x} of {} is gone (expired or lost); registering again", st->etcd.host_port,
                     lease, st->key);
        lease = 0;
        put = false;
        st->lease = 0;
        continue;  // grant a new one at once
      }
    }
    if (s.ok() && lease != 0 && !put) {
      const Clock::time_point put_deadline = Clock::now() + kRequestTimeout;
      s = co_await PutKey(*st, lease, put_deadline);
      if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
      if (s.ok()) {
        put = true;
        Log().info("registered {} on etcd {} (lease {:x}, TTL {} s)", st->key, st->etcd.host_port, lease,
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
      Log().info("etcd {} answers again", st->etcd.host_port);
      last_error.clear();
    }
    wake.expires_after(s.ok() ? st->interval : retry);
    co_await wake.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return;
  }
}

class EtcdRegistrar final : public Registrar {
 public:
  EtcdRegistrar(EtcdAddress etcd, const Registration& registration) : state_(std::make_shared<RegistrarState>()) {
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
  }

  ~EtcdRegistrar() override {
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
    // Revoking the lease deletes the key at once.
    Status s = co_await RevokeLease(*st, lease, Clock::now() + kDeregisterTimeout);
    if (s.ok()) {
      Log().info("deregistered {} from etcd {}", st->key, st->etcd.host_port);
    } else {
      Log().warn("could not deregister {} from etcd: {}; it goes when its lease expires ({} s)", st->key,
                   s.message(), st->ttl_seconds);
    }
  }

 private:
  std::shared_ptr<RegistrarState> state_;
  asio::any_io_executor loop_;
};

// =============================================================== resolver

struct ResolverState {
  ResolverState(EtcdAddress e, std::string svc)
      : etcd(std::move(e)), service(std::move(svc)), prefix(EtcdInstanceKey(service, "")) {}
  EtcdAddress etcd;
  std::string service;
  std::string prefix;  // "/harpc/services/<service>/"
  Resolver::Listener listener;
  EtcdMembers members;
  int64_t revision = 0;  // of `members`; 0: range again before watching
  std::optional<std::vector<EndpointSpec>> published;
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
  Log().info("etcd {}: service {} has {} endpoint(s)", st.etcd.host_port, st.service, specs.size());
  if (st.listener) st.listener(std::move(specs));
}

// Applies one message of the watch stream.
Status HandleWatchMessage(ResolverState& st, std::string_view line, bool* established) {
  EtcdWatchUpdate update;
  Status s = ApplyEtcdWatchMessage(line, st.prefix, "etcd " + st.etcd.host_port + " /v3/watch", &st.members, &update);
  if (update.created) *established = true;
  if (!s.ok() || !update.events) return s;
  if (update.revision > 0) st.revision = update.revision;
  Publish(st);
  return Status::Ok();
}

// Watches the prefix from st.revision + 1 until the stream ends; the reason it ended.
asio::awaitable<Status> Watch(ResolverState& st, bool* established) {
  const std::string what = "etcd " + st.etcd.host_port + " /v3/watch";
  http1::ClientConnection connection(co_await asio::this_coro::executor);
  const Clock::time_point deadline = Clock::now() + kRequestTimeout;
  if (auto ec = co_await connection.stream.Connect(st.etcd.endpoint, deadline, st.etcd.tls)) {
    co_return Unavailable(what + ": connect: " + Describe(ec));
  }

  json::object create;
  create["key"] = Base64Encode(st.prefix);
  create["range_end"] = Base64Encode(PrefixEnd(st.prefix));
  create["start_revision"] = std::to_string(st.revision + 1);
  json::object body;
  body["create_request"] = std::move(create);
  http1::StreamingResponse response(connection, kMaxWatchMessageBytes);
  if (auto ec = co_await response.Start(FormatPost(st.etcd, "/v3/watch", json::serialize(body), false), deadline)) {
    co_return Unavailable(what + ": " + Describe(ec));
  }
  if (response.status() != 200) co_return Unavailable(what + ": HTTP " + std::to_string(response.status()));

  const auto handle = [&](std::string_view line) { return HandleWatchMessage(st, line, established); };
  for (;;) {
    if (Status s = ConsumeEtcdWatchLines(response.body(), response.done(), handle); !s.ok()) co_return s;
    if (response.done()) co_return Unavailable(what + ": etcd ended the stream");
    beast::error_code rec = co_await response.ReadSome();
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return Status(StatusCode::kCancelled, "stopped");
    if (rec == http::error::body_limit) co_return Unavailable(what + ": message too large");
    if (rec) co_return Unavailable(what + ": stream broke: " + Describe(rec));
  }
}

// Ranges and watches until it is cancelled (EtcdResolver::Stop), which also
// cancels the range or watch in flight.
asio::awaitable<void> RunResolver(std::shared_ptr<ResolverState> st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  milliseconds backoff = kMinBackoff;
  std::string last_error;
  for (;;) {
    Status s;
    if (st->revision == 0) {
      EtcdMembers members;
      int64_t revision = 0;
      const Clock::time_point deadline = Clock::now() + kRequestTimeout;
      s = co_await RangeMembers(st->etcd, st->prefix, deadline, &members, &revision);
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (s.ok()) {
        st->members = std::move(members);
        st->revision = revision;
        if (!last_error.empty()) Log().info("etcd {} answers again", st->etcd.host_port);
        last_error.clear();
        Publish(*st);
      }
    }
    if (s.ok()) {
      bool established = false;
      s = co_await Watch(*st, &established);
      if (Stopped(co_await asio::this_coro::cancellation_state)) break;
      if (established) backoff = kMinBackoff;
      st->revision = 0;  // range afresh: events may have been missed
    }
    if (s.message() != last_error) {
      Log().warn("{}; service {} keeps its last {} endpoint(s) meanwhile", s.message(), st->service,
                   st->published ? st->published->size() : 0);
    }
    last_error = s.message();
    timer.expires_after(backoff);
    co_await timer.async_wait(kNoThrow);
    if (Stopped(co_await asio::this_coro::cancellation_state)) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

class EtcdResolver final : public Resolver {
 public:
  EtcdResolver(EtcdAddress etcd, std::string service) : etcd_(std::move(etcd)), service_(std::move(service)) {}
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

 private:
  EtcdAddress etcd_;
  std::string service_;
  std::shared_ptr<ResolverState> state_;
  StopSignal watch_;
};

}  // namespace

Status MakeEtcdRegistrar(std::string_view host_port, Registration registration, const TlsOptions& tls,
                         std::unique_ptr<Registrar>* out) {
  EtcdAddress etcd;
  if (Status s = ParseEtcdAddress(host_port, &etcd); !s.ok()) return s;
  etcd.tls = tls;
  if (Status s = CheckServiceName(registration.service); !s.ok()) return s;
  // Port 0 passes: `harpc serve` checks its flags before it binds (the real port comes later).
  HostPort hp;
  if (Status s = ParseHostPort(registration.address, &hp, /*allow_port_zero=*/true); !s.ok()) return s;
  *out = std::make_unique<EtcdRegistrar>(std::move(etcd), registration);
  return Status::Ok();
}

Status MakeEtcdResolver(std::string_view host_port, std::string service, const TlsOptions& tls,
                        std::unique_ptr<Resolver>* out) {
  EtcdAddress etcd;
  if (Status s = ParseEtcdAddress(host_port, &etcd); !s.ok()) return s;
  etcd.tls = tls;
  if (Status s = CheckServiceName(service); !s.ok()) return s;
  *out = std::make_unique<EtcdResolver>(std::move(etcd), std::move(service));
  return Status::Ok();
}

}  // namespace harpc
