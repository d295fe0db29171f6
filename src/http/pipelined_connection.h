// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A keep-alive connection to one server that carries several requests at
// once (HTTP/1.1 pipelining, RFC 9112 §9.3.2): requests are written as they
// come, those waiting together in one write, and their answers are read in
// the same order, those that arrived together from one read. A connection
// per call in flight costs both sides a write, a read and a wake-up per call;
// here a busy connection pays them once per batch.
//
// What keeps it safe:
// - A new connection carries one request until an answer shows the server
//   speaks HTTP/1.1 with keep-alive; only then are more written behind it.
// - A server that answers "Connection: close" processes nothing after that
//   answer (RFC 9112 §9.6), so the requests written behind it did not run:
//   they are handed back (`Leftovers`) to go out on another connection,
//   unseen by their callers.
// - A caller that stops waiting (deadline, a hedge won elsewhere) leaves its
//   request behind; its answer is read and dropped. Until then the
//   connection counts as stalled and takes no new request, so nobody queues
//   behind a server that stopped answering; once nobody waits on any of its
//   requests, it is closed.
//
// Lives on one event loop thread; needs no lock.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "harpc/security.h"
#include "http/client.h"
#include "http/stream.h"

namespace harpc::http1 {

// One request on its way, then its answer. Shared by the caller, who waits
// on `wake`, and the connection that carries it.
struct PendingRequest {
  PendingRequest(const boost::asio::any_io_executor& executor, std::string bytes, const ResponseLimits& limits)
      : bytes(std::move(bytes)), limits(limits), wake(executor) {}

  // The caller no longer waits: the request is not written if it has not
  // been, and its answer, if one comes, is dropped.
  void Abandon() {
    abandoned = true;
    wake.cancel();
  }
  // The answer (or the failure) is in `response`: wakes the caller.
  void Complete() {
    done = true;
    wake.cancel();
  }

  std::string bytes;  // the whole request (http/request.h)
  ResponseLimits limits;
  boost::asio::steady_timer wake;                    // the caller's wait; cancelled once `done`
  ClientResponse response;                           // valid once `done`
  std::weak_ptr<class PipelinedConnection> carrier;  // the connection it was queued on
  bool started = false;                              // its first byte was handed to the socket
  bool done = false;
  bool abandoned = false;
};

class PipelinedConnection : public std::enable_shared_from_this<PipelinedConnection> {
 public:
  using Clock = std::chrono::steady_clock;
  // Requests that did not run on this connection (written behind a
  // "Connection: close" answer, or never written), for another connection.
  using Leftovers = std::function<void(std::deque<std::shared_ptr<PendingRequest>>)>;

  // Starts connecting to `endpoint` (with TLS when `tls.ca_file` is set),
  // giving up after `connect_timeout`: requests queued meanwhile then fail
  // with the connect error (`response.connect_failed`), none of them sent.
  static std::shared_ptr<PipelinedConnection> Open(const boost::asio::any_io_executor& executor,
                                                   const boost::asio::ip::tcp::endpoint& endpoint,
                                                   const TlsOptions& tls, std::chrono::milliseconds connect_timeout,
                                                   Leftovers leftovers);
  PipelinedConnection(const boost::asio::any_io_executor& executor, Leftovers leftovers);

  // Queues `request` behind those already here; its caller waits on its `wake`.
  void Submit(std::shared_ptr<PendingRequest> request);

  // Requests queued or awaiting their answers.
  size_t load() const { return unsent_.size() + unanswered_.size(); }
  // Open and fit for another request: not stalled behind an answer nobody
  // waits for. (Before the server proved it pipelines, requests queue here
  // unsent; see the header comment.)
  bool Accepting() const { return !closed_ && !stalled(); }
  bool closed() const { return closed_; }
  // Whether the server proved it keeps HTTP/1.1 connections alive.
  bool pipelining() const { return pipelining_; }
  // Idle since when (no request queued or in flight); Clock::time_point::max() while busy.
  Clock::time_point idle_since() const { return load() == 0 ? idle_since_ : Clock::time_point::max(); }
  // An idle connection that the peer has not closed (one peek, no blocking).
  bool QuietAndOpen() { return !closed_ && stream_.QuietAndOpen(); }
  // Closes the connection; the requests still on it fail (operation_aborted).
  void Close() { Fail(boost::asio::error::operation_aborted); }
  // After a caller abandoned its request: closes the connection when nobody
  // waits on anything it carries (a server that stopped answering).
  void Prune();

 private:
  bool stalled() const;
  boost::asio::awaitable<void> Connect(boost::asio::ip::tcp::endpoint endpoint, TlsOptions tls,
                                       std::chrono::milliseconds connect_timeout);
  boost::asio::awaitable<void> WriteLoop();
  boost::asio::awaitable<void> ReadLoop();
  // Reads the next answer into `parser`: from the buffer when it is there.
  boost::asio::awaitable<boost::system::error_code> ReadAnswer(
      boost::beast::http::response_parser<boost::beast::http::string_body>& parser);
  void StartWriting();
  // Ends every request still here with `ec`; the unsent ones as not sent.
  void Fail(const boost::system::error_code& ec, bool connect_failed = false);
  void CloseStream();

  Stream stream_;
  boost::beast::flat_buffer buffer_;  // bytes read past the last answer
  Leftovers leftovers_;
  std::deque<std::shared_ptr<PendingRequest>> unsent_;
  std::deque<std::shared_ptr<PendingRequest>> unanswered_;  // written (or being written), in order
  Clock::time_point idle_since_ = Clock::now();
  bool connected_ = false;
  bool writing_ = false;
  bool reading_ = false;
  bool pipelining_ = false;
  bool closed_ = false;
};

}  // namespace harpc::http1
