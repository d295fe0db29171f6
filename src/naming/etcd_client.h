// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The way to an etcd cluster for the registrar and the resolver of etcd.h:
// the members an etcd:// target lists, one at a time, over http or https,
// signed in as an etcd user when one is given.
//
// Failover: requests go to one member (the first listed at first) for as long
// as it answers. A member fails a request when it cannot be reached
// (refused, reset, TLS refused), does not answer within the request's time,
// or answers that it cannot serve (HTTP 5xx, etcd's "no leader", "request
// timed out"); the request then goes to the next listed member, round robin,
// each member at most once per request. When every member failed, the error
// names them all, grouped by reason:
//   etcd unreachable at 127.0.0.1:2379, 127.0.0.1:22379: connection refused
// The caller retries later with its own backoff. An answer of etcd's (a lease
// not found, a wrong password) is not a member's failure: every member would
// say the same.
//
// Authentication (EtcdAccess::user): POST /v3/auth/authenticate
// {"name","password"} gives a token, sent as the "Authorization" header on
// every request and stream. Every member accepts it (etcd agrees on tokens
// through Raft). When etcd no longer accepts it ("invalid auth token": it
// expired, or the member restarted and forgot it; "auth store is old": users
// changed since), the client signs in again and repeats the request once. An
// etcd with authentication disabled gets no token (as etcd's own client does).
//
// Connections: one idle keep-alive connection per member is kept for the next
// request; streams (the watch) get a connection of their own.
//
// Everything here runs on one loop (the registrar's or the channel's).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/value.hpp>

#include "harpc/security.h"
#include "harpc/status.h"
#include "http/client.h"

namespace harpc {

class EtcdClient {
 public:
  using Clock = std::chrono::steady_clock;

  // `members`: "H:P[,H:P]" (checked here: valid, none twice). TLS: `security.etcd.tls`
  // when it has a CA, else `security.tls`; user and password: `security.etcd`.
  static Status Make(std::string_view members, const ClientSecurity& security, std::shared_ptr<EtcdClient>* out);
  // INVALID_ARGUMENT when `access` cannot sign in as given (a password without a user).
  static Status CheckAccess(const EtcdAccess& access);

  // The member requests go to now ("H:P"), and every member: "H:P, H:P".
  const std::string& current() const;
  std::string members() const;
  size_t size() const { return members_.size(); }

  // POSTs `body` to `path` (e.g. "/v3/kv/range") and parses the JSON answer;
  // fails over as described above, giving each member until now + `per_member`.
  // Errors: etcd's answer ("etcd H:P /v3/...: etcdserver: ...", NOT_FOUND for
  // a lease that is gone), or UNAVAILABLE "etcd unreachable at ...".
  boost::asio::awaitable<Status> Call(std::string_view path, const std::string& body,
                                      std::chrono::milliseconds per_member, boost::json::value* out);
  // The same on the current member only, without failover (a liveness probe).
  boost::asio::awaitable<Status> CallCurrent(std::string_view path, const std::string& body, Clock::time_point deadline,
                                             boost::json::value* out);

  // Opens a stream on the current member: connects `connection`, signs in
  // when needed, sends the request and reads the answer's head, all before
  // `deadline`. UNAVAILABLE "etcd H:P /v3/...: ..." when it cannot.
  boost::asio::awaitable<Status> OpenStream(http1::ClientConnection& connection, http1::StreamingResponse& response,
                                            std::string_view path, const std::string& body, Clock::time_point deadline);
  // A stream on the current member ended with `why`: the next request signs
  // in again when etcd refused the token, and goes to the next member otherwise.
  void StreamEnded(const Status& why);

 private:
  struct Member {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host_port;                          // as listed: Host header and messages
    std::unique_ptr<http1::ClientConnection> idle;  // kept alive for the next request
  };

  EtcdClient(std::vector<Member> members, TlsOptions tls, EtcdAccess access);

  // One request on `member`, signing in first when needed. A failure of the
  // member itself sets `*failure` (why, without the member's name).
  boost::asio::awaitable<Status> CallOn(Member& member, std::string_view path, const std::string& body,
                                        Clock::time_point deadline, boost::json::value* out, std::string* failure);
  boost::asio::awaitable<Status> Exchange(Member& member, std::string_view path, const std::string& body,
                                          Clock::time_point deadline, boost::json::value* out, std::string* failure);
  boost::asio::awaitable<Status> SignIn(Member& member, Clock::time_point deadline, std::string* failure);
  bool NeedsToken() const { return !access_.user.empty() && token_.empty() && !auth_disabled_; }
  // The request as it goes out: the token's header included.
  std::string Format(const Member& member, std::string_view path, std::string_view body, bool stream) const;
  // To the next member, leaving the current one for `why` ("H:P: reason", for the log).
  void MoveOn(std::string why);

  std::vector<Member> members_;
  TlsOptions tls_;
  EtcdAccess access_;
  size_t current_ = 0;          // the member requests go to
  size_t answered_ = 0;         // the member that answered last (for the log line of a failover)
  std::string left_because_;    // "H:P: why" of the last member left
  std::string token_;           // empty: not signed in
  bool auth_disabled_ = false;  // etcd said authentication is not enabled: no token needed
};

}  // namespace harpc
