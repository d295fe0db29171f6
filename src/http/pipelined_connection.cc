// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/pipelined_connection.h"

#include <algorithm>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace harpc::http1 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// Requests written together in one write at most: a bound on the gather list.
constexpr size_t kMaxBatch = 64;
// The most one read asks for.
constexpr size_t kReadSize = 64 * 1024;
}  // namespace

std::shared_ptr<PipelinedConnection> PipelinedConnection::Open(const asio::any_io_executor& executor,
                                                               const asio::ip::tcp::endpoint& endpoint,
                                                               const TlsOptions& tls,
                                                               std::chrono::milliseconds connect_timeout,
                                                               Leftovers leftovers) {
  auto c = std::make_shared<PipelinedConnection>(executor, std::move(leftovers));
  asio::co_spawn(
      executor, [c, endpoint, tls, connect_timeout] { return c->Connect(endpoint, tls, connect_timeout); },
      asio::detached);
  return c;
}

PipelinedConnection::PipelinedConnection(const asio::any_io_executor& executor, Leftovers leftovers)
    : stream_(executor), leftovers_(std::move(leftovers)) {
  // Room for a batch of typical answers in one read: Beast reads no more
  // than the buffer's free space.
  buffer_.reserve(16 * 1024);
}

asio::awaitable<void> PipelinedConnection::Connect(asio::ip::tcp::endpoint endpoint, TlsOptions tls,
                                                   std::chrono::milliseconds connect_timeout) {
  error_code ec = co_await stream_.Connect(endpoint, Clock::now() + connect_timeout, tls);
  stream_.expires_never();  // from here, each caller keeps its own deadline
  if (closed_) co_return;
  if (ec) {
    Fail(ec, /*connect_failed=*/true);
    co_return;
  }
  connected_ = true;
  StartWriting();
}

void PipelinedConnection::Submit(std::shared_ptr<PendingRequest> request) {
  request->carrier = weak_from_this();
  unsent_.push_back(std::move(request));
  StartWriting();
}

bool PipelinedConnection::stalled() const {
  return std::any_of(unanswered_.begin(), unanswered_.end(), [](const auto& r) { return r->abandoned; });
}

void PipelinedConnection::StartWriting() {
  if (writing_ || !connected_ || closed_ || unsent_.empty()) return;
  // Until the server proved it pipelines, one request at a time.
  if (!pipelining_ && !unanswered_.empty()) return;
  writing_ = true;
  asio::co_spawn(
      stream_.get_executor(), [self = shared_from_this()] { return self->WriteLoop(); }, asio::detached);
}

asio::awaitable<void> PipelinedConnection::WriteLoop() {
  std::vector<asio::const_buffer> gather;
  // Owned here too: a request handed back meanwhile (Leftovers) or failed
  // and forgotten by its caller still has its bytes on their way out.
  std::vector<std::shared_ptr<PendingRequest>> batch;
  while (!closed_) {
    while (!unsent_.empty() && unsent_.front()->abandoned) unsent_.pop_front();
    if (unsent_.empty() || (!pipelining_ && !unanswered_.empty())) break;
    gather.clear();
    batch.clear();
    const size_t most = pipelining_ ? kMaxBatch : 1;
    while (!unsent_.empty() && batch.size() < most) {
      std::shared_ptr<PendingRequest> r = std::move(unsent_.front());
      unsent_.pop_front();
      if (r->abandoned) continue;
      r->started = true;
      gather.emplace_back(asio::buffer(r->bytes));
      batch.push_back(r);
      unanswered_.push_back(std::move(r));
    }
    if (!reading_) {
      reading_ = true;
      asio::co_spawn(
          stream_.get_executor(), [self = shared_from_this()] { return self->ReadLoop(); }, asio::detached);
    }
    auto [ec, written] = co_await asio::async_write(stream_, gather, kNoThrow);
    if (ec) {
      // What the socket took may have reached the server; the rest did not.
      size_t offset = 0;
      for (auto& r : batch) {
        if (offset >= written && !r->done && r->carrier.lock().get() == this) r->started = false;
        offset += r->bytes.size();
      }
      Fail(ec);
      break;
    }
    for (auto& r : batch) {
      if (!r->done && r->carrier.lock().get() == this) r->response.sent = true;
    }
  }
  writing_ = false;
}

asio::awaitable<void> PipelinedConnection::ReadLoop() {
  while (!closed_ && !unanswered_.empty()) {
    const ResponseLimits& limits = unanswered_.front()->limits;
    http::response_parser<http::string_body> parser;
    parser.header_limit(limits.head_bytes);
    parser.body_limit(limits.body_bytes);
    error_code ec = co_await ReadAnswer(parser);
    if (closed_) break;
    if (ec) {
      Fail(ec);
      break;
    }
    std::shared_ptr<PendingRequest> r = std::move(unanswered_.front());
    unanswered_.pop_front();
    auto& answer = parser.get();
    const bool keep_alive = answer.keep_alive();
    r->response.sent = true;  // answered: all of it was read
    r->response.status = answer.result_int();
    r->response.body = std::move(answer.body());
    r->response.reusable = keep_alive;
    r->Complete();
    if (!keep_alive) {
      // Nothing behind this answer ran (RFC 9112 §9.6): those requests go
      // out again on another connection.
      std::deque<std::shared_ptr<PendingRequest>> rest;
      for (auto& q : unanswered_) {
        if (q->abandoned) continue;
        q->started = false;
        q->response.sent = false;
        rest.push_back(std::move(q));
      }
      for (auto& q : unsent_) {
        if (!q->abandoned) rest.push_back(std::move(q));
      }
      unanswered_.clear();
      unsent_.clear();
      CloseStream();
      if (!rest.empty()) leftovers_(std::move(rest));
      break;
    }
    if (!pipelining_ && answer.version() >= 11) {
      pipelining_ = true;
      StartWriting();
    } else if (!pipelining_ && unanswered_.empty()) {
      StartWriting();  // the next request, one at a time
    }
    if (unanswered_.empty()) {
      if (buffer_.size() > 0) {  // bytes nobody asked for: the stream can no longer be trusted
        Fail(boost::beast::http::error::unexpected_body);
        break;
      }
      idle_since_ = Clock::now();
    }
  }
  reading_ = false;
}

asio::awaitable<error_code> PipelinedConnection::ReadAnswer(http::response_parser<http::string_body>& parser) {
  // What is in the buffer is parsed here, not by an asynchronous read: the
  // answers that came in one read then wake their callers one after another,
  // before the writer runs, and their next requests go out in one write.
  for (;;) {
    if (buffer_.size() > 0) {
      error_code ec;
      const size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec && ec != http::error::need_more) co_return ec;
      if (parser.is_done()) co_return error_code();
      if (used > 0 && buffer_.size() > 0) continue;  // the head is done; now the body
    }
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, kReadSize)), kNoThrow);
    if (ec == asio::error::eof && parser.got_some()) {
      error_code end;
      parser.put_eof(end);  // an answer whose body ends with the connection
      co_return end;
    }
    if (ec == asio::error::eof) co_return http::error::end_of_stream;
    if (ec) co_return ec;
    buffer_.commit(n);
  }
}

void PipelinedConnection::Fail(const error_code& ec, bool connect_failed) {
  CloseStream();
  auto end = [&](std::shared_ptr<PendingRequest>& r, bool sent) {
    r->response.error = ec;
    r->response.sent = sent;
    r->response.connect_failed = connect_failed;
    r->Complete();
  };
  for (auto& r : unanswered_) end(r, r->started);
  for (auto& r : unsent_) end(r, false);
  unanswered_.clear();
  unsent_.clear();
}

void PipelinedConnection::Prune() {
  while (!unsent_.empty() && unsent_.front()->abandoned) unsent_.pop_front();
  if (closed_ || load() == 0) return;
  const auto waiting = [](const auto& r) { return !r->abandoned; };
  if (std::none_of(unanswered_.begin(), unanswered_.end(), waiting) &&
      std::none_of(unsent_.begin(), unsent_.end(), waiting)) {
    Fail(boost::asio::error::operation_aborted);
  }
}

void PipelinedConnection::CloseStream() {
  if (closed_) return;
  closed_ = true;
  stream_.Close();
}

}  // namespace harpc::http1
