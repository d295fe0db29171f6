// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The members of an etcd cluster, one at a time (etcd_client.h).
#include "naming/etcd_client.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/json.hpp>

#include "http/request.h"
#include "naming/etcd_gateway.h"
#include "util/address.h"
#include "util/log.h"
#include "util/stop_signal.h"

namespace harpc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;
// An idle connection this young cannot have met the member's idle timeout:
// reused without the syscall that checks it is still open.
constexpr auto kFreshIdle = std::chrono::seconds(1);

// "Connection refused" -> "connection refused" (an acronym such as "TLS"
// stays): reasons read as part of a sentence.
std::string Reason(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  std::string text = ec.message();
  if (text.size() > 1 && std::islower(static_cast<unsigned char>(text[1]))) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

// Whether etcd refused the token: sign in again. "invalid auth token": it
// expired or the member forgot it (a restart); "auth store is old": users or
// roles changed since it was issued; "user name is empty": the request came
// without one (it was dropped meanwhile).
bool TokenRefused(const Status& s) {
  if (s.code() == StatusCode::kUnauthenticated) return true;
  const std::string& m = s.message();
  return m.find("revision of auth store is old") != std::string::npos ||
         m.find("user name is empty") != std::string::npos;
}

// "etcd unreachable at A, B: connection refused; C: timed out", members
// grouped by reason in the order they were tried.
std::string Unreachable(const std::vector<std::pair<std::string, std::string>>& failures) {
  std::vector<std::pair<std::string, std::string>> groups;  // members, reason
  for (const auto& failure : failures) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.second == failure.second; });
    if (same == groups.end()) {
      groups.push_back(failure);
    } else {
      same->first += ", " + failure.first;
    }
  }
  std::string text = "etcd unreachable at ";
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) text += "; ";
    text += groups[i].first + ": " + groups[i].second;
  }
  return text;
}

}  // namespace

Status EtcdClient::Make(std::string_view list, const ClientSecurity& security, std::shared_ptr<EtcdClient>* out) {
  std::vector<std::string> addresses;
  if (Status s = ParseHostPortList(list, "etcd", &addresses); !s.ok()) return s;
  std::vector<Member> members;
  for (const std::string& address : addresses) {
    Member m{.host_port = address};
    HostPort hp;
    if (Status s = ParseHostPort(address, &hp); !s.ok()) return s;
    if (Status s = ResolveEndpoint(hp, &m.endpoint); !s.ok()) return s;
    members.push_back(std::move(m));
  }
  const TlsOptions& tls = security.etcd.tls.client_enabled() ? security.etcd.tls : security.tls;
  out->reset(new EtcdClient(std::move(members), tls, security.etcd));
  return Status::Ok();
}

Status EtcdClient::CheckAccess(const EtcdAccess& access) {
  if (access.user.empty() && !access.password.empty()) return InvalidArgument("etcd: a password without a user name");
  return Status::Ok();
}

EtcdClient::EtcdClient(std::vector<Member> members, TlsOptions tls, EtcdAccess access)
    : members_(std::move(members)), tls_(std::move(tls)), access_(std::move(access)) {}

const std::string& EtcdClient::current() const { return members_[current_].host_port; }

std::string EtcdClient::members() const {
  std::string text;
  for (const Member& m : members_) text += (text.empty() ? "" : ", ") + m.host_port;
  return text;
}

std::string EtcdClient::Format(const Member& member, std::string_view path, std::string_view body, bool stream) const {
  std::string request;
  http1::AppendRequestLine(request, "POST", path, member.host_port);
  if (!token_.empty()) http1::AppendHeader(request, "Authorization", token_);
  // A stream (the watch) is canceled by the member when it loses its leader,
  // rather than going silent (gRPC metadata "hasleader", as etcd's own client asks).
  if (stream) http1::AppendHeader(request, "Grpc-Metadata-Hasleader", "true");
  http1::AppendBody(request, "application/json", body);
  return request;
}

asio::awaitable<Status> EtcdClient::Exchange(Member& member, std::string_view path, const std::string& body,
                                             Clock::time_point deadline, json::value* out, std::string* failure) {
  const std::string request = Format(member, path, body, /*stream=*/false);
  // Twice at most: a kept connection the member closed meanwhile fails
  // without a fault of the member's, and the request then goes on a new one.
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<http1::ClientConnection> connection = std::move(member.idle);
    const bool reused = attempt == 0 && connection &&
                        (Clock::now() - connection->idle_since < kFreshIdle || connection->stream.QuietAndOpen());
    if (!reused) {
      connection = std::make_unique<http1::ClientConnection>(co_await asio::this_coro::executor);
      if (auto ec = co_await connection->stream.Connect(member.endpoint, deadline, tls_)) {
        *failure = ec == beast::error::timeout ? "connect timed out" : Reason(ec);
        co_return Unavailable(std::string(path) + ": connect: " + *failure);
      }
    }
    http1::ClientResponse response =
        co_await http1::Exchange(*connection, request, deadline, {.body_bytes = kMaxResponseBytes});
    if (response.error) {
      if (reused && response.error != beast::error::timeout && !Stopped(co_await asio::this_coro::cancellation_state)) {
        continue;
      }
      *failure =
          std::string(path) + (response.error == beast::error::timeout ? " timed out" : ": " + Reason(response.error));
      co_return Unavailable(*failure);
    }
    if (response.reusable) {
      connection->stream.expires_never();
      connection->idle_since = Clock::now();
      member.idle = std::move(connection);
    }
    Status s = ParseEtcdAnswer(response.status, response.body, std::string(path), out);
    // The member answers that it cannot serve (no leader, a timeout inside etcd, HTTP 5xx).
    if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) *failure = s.message();
    co_return s;
  }
}

asio::awaitable<Status> EtcdClient::SignIn(Member& member, Clock::time_point deadline, std::string* failure) {
  token_.clear();
  json::object request;
  request["name"] = access_.user;
  request["password"] = access_.password;
  json::value answer;
  Status s = co_await Exchange(member, "/v3/auth/authenticate", json::serialize(request), deadline, &answer, failure);
  if (s.code() == StatusCode::kFailedPrecondition && s.message().find("not enabled") != std::string::npos) {
    Log().warn("etcd {}: authentication is not enabled; user {} is not needed", member.host_port, access_.user);
    auth_disabled_ = true;
    co_return Status::Ok();
  }
  if (!s.ok()) {
    if (!failure->empty()) co_return s;
    co_return Status(s.code(), "user '" + access_.user + "' cannot sign in: " + s.message());
  }
  const json::value* token = answer.is_object() ? answer.as_object().if_contains("token") : nullptr;
  if (!token || !token->is_string() || token->as_string().empty()) {
    co_return Unavailable("/v3/auth/authenticate: the answer has no token");
  }
  token_ = std::string(token->as_string());
  co_return Status::Ok();
}

asio::awaitable<Status> EtcdClient::CallOn(Member& member, std::string_view path, const std::string& body,
                                           Clock::time_point deadline, json::value* out, std::string* failure) {
  failure->clear();
  if (NeedsToken()) {
    if (Status s = co_await SignIn(member, deadline, failure); !s.ok()) co_return s;
  }
  Status s = co_await Exchange(member, path, body, deadline, out, failure);
  if (!access_.user.empty() && TokenRefused(s)) {
    auth_disabled_ = false;  // enabled since, if it was not
    if (s = co_await SignIn(member, deadline, failure); !s.ok()) co_return s;
    s = co_await Exchange(member, path, body, deadline, out, failure);
  }
  co_return s;
}

void EtcdClient::MoveOn(std::string why) {
  if (members_.size() == 1) return;
  left_because_ = std::move(why);
  current_ = (current_ + 1) % members_.size();
  Log().debug("etcd {}; trying {}", left_because_, members_[current_].host_port);
}

asio::awaitable<Status> EtcdClient::Call(std::string_view path, const std::string& body, milliseconds per_member,
                                         json::value* out) {
  std::vector<std::pair<std::string, std::string>> failures;  // member, why
  for (size_t tried = 0; tried < members_.size(); ++tried) {
    Member& member = members_[current_];
    std::string failure;
    Status s = co_await CallOn(member, path, body, Clock::now() + per_member, out, &failure);
    if (Stopped(co_await asio::this_coro::cancellation_state)) co_return Cancelled("stopped");
    if (failure.empty()) {
      if (current_ != answered_ && s.ok()) {
        Log().info("etcd: {} answers in place of {} ({})", member.host_port, members_[answered_].host_port,
                   left_because_);
      }
      if (s.ok()) {
        answered_ = current_;
        co_return s;
      }
      std::string message = "etcd " + member.host_port + " " + s.message();
      if (access_.user.empty() && TokenRefused(s)) message += " (this etcd wants a user: harpc --etcd-user)";
      co_return Status(s.code(), std::move(message));
    }
    failures.emplace_back(member.host_port, failure);
    MoveOn(member.host_port + ": " + failure);
  }
  co_return Unavailable(Unreachable(failures));
}

asio::awaitable<Status> EtcdClient::CallCurrent(std::string_view path, const std::string& body,
                                                Clock::time_point deadline, json::value* out) {
  Member& member = members_[current_];
  std::string failure;
  Status s = co_await CallOn(member, path, body, deadline, out, &failure);
  if (s.ok()) co_return s;
  co_return Status(s.code(), "etcd " + member.host_port + " " + s.message());
}

asio::awaitable<Status> EtcdClient::OpenStream(http1::ClientConnection& connection, http1::StreamingResponse& response,
                                               std::string_view path, const std::string& body,
                                               Clock::time_point deadline) {
  Member& member = members_[current_];
  const std::string what = "etcd " + member.host_port + " " + std::string(path);
  if (NeedsToken()) {
    std::string failure;
    if (Status s = co_await SignIn(member, deadline, &failure); !s.ok())
      co_return Status(s.code(), "etcd " + member.host_port + " " + s.message());
  }
  if (auto ec = co_await connection.stream.Connect(member.endpoint, deadline, tls_)) {
    co_return Unavailable(what + ": connect: " + Reason(ec));
  }
  if (auto ec = co_await response.Start(Format(member, path, body, /*stream=*/true), deadline)) {
    co_return Unavailable(what + ": " + Reason(ec));
  }
  if (response.status() == 401) co_return Status(StatusCode::kUnauthenticated, what + ": HTTP 401");
  if (response.status() != 200) co_return Unavailable(what + ": HTTP " + std::to_string(response.status()));
  co_return Status::Ok();
}

void EtcdClient::StreamEnded(const Status& why) {
  if (!access_.user.empty() && TokenRefused(why)) {
    token_.clear();
    return;
  }
  MoveOn(why.message());
}

}  // namespace harpc
