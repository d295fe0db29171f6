// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "replication/raft_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <set>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "http/stream.h"
#include "replication/raft_wire_check.h"
#include "server/server_upgrades.h"
#include "util/address.h"
#include "util/log.h"

namespace harpc::replication {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kProtocol = "harpc-raft/1";
constexpr std::string_view kPath = "/raft";
// A peer that does not accept within this is tried again by libraft later.
constexpr auto kDialTimeout = std::chrono::milliseconds(1000);

using LocalSocket = asio::local::stream_protocol::socket;

// Copies bytes one way until either side ends, or `check` (if any) refuses them.
template <typename From, typename To>
asio::awaitable<void> Copy(From& from, To& to, RaftWireCheck* check) {
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(buffer), kNoThrow);
    if (read_ec) co_return;
    if (check && !check->Feed(std::string_view(buffer.data(), n))) co_return;
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), kNoThrow);
    if (write_ec) co_return;
  }
}

// Joins the network connection and libraft's end of the socket pair until
// either closes; `early` is what the peer sent before the splice began.
// What the peer sends passes `inbound` first, when given.
asio::awaitable<void> Splice(http1::Stream& network, LocalSocket& local, std::string early,
                             RaftWireCheck* inbound = nullptr) {
  if (!early.empty()) {
    if (inbound && !inbound->Feed(early)) co_return;
    auto [ec, n] = co_await asio::async_write(local, asio::buffer(early), kNoThrow);
    if (ec) co_return;
  }
  co_await (Copy(network, local, inbound) || Copy(local, network, nullptr));
  boost::system::error_code ignored;
  local.close(ignored);
}

// A connected pair of Unix stream sockets: [0] for harpc, [1] for libraft.
Status SocketPair(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return Internal(std::string("socketpair: ") + std::system_category().message(errno));
  }
  return Status::Ok();
}
}  // namespace

struct RaftTransport::State : std::enable_shared_from_this<State> {
  raft_uv_transport transport{};
  UvLoop* loop;  // null once the transport is destroyed
  ClientSecurity security;
  uint64_t max_message_bytes = 0;
  raft_id id = 0;
  std::string address;
  raft_uv_accept_cb accept = nullptr;
  bool closed = false;
  std::set<raft_uv_connect*> dialing;  // their callbacks not called yet

  static State* Of(raft_uv_transport* t) { return static_cast<State*>(t->impl); }

  // libraft's end of a socket pair, as the stream libuv reads and writes.
  // Freed by libraft (raft_free) after it closes it.
  uv_stream_t* Pipe(int fd) {
    auto* pipe = static_cast<uv_pipe_t*>(raft_malloc(sizeof(uv_pipe_t)));
    if (!pipe) return nullptr;
    uv_pipe_init(loop->get(), pipe, 0);
    if (uv_pipe_open(pipe, fd) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { raft_free(h); });
      return nullptr;
    }
    return reinterpret_cast<uv_stream_t*>(pipe);
  }

  // Ends a dial libraft is still waiting for; false when it stopped waiting.
  bool Finish(raft_uv_connect* request, uv_stream_t* stream, int status) {
    if (!loop || dialing.erase(request) == 0) return false;
    request->cb(request, stream, status);
    loop->Kick();
    return true;
  }

  std::string UpgradeRequest(const std::string& peer) const {
    std::string r = "GET " + std::string(kPath) + " HTTP/1.1\r\nHost: " + peer +
                    "\r\nConnection: Upgrade\r\nUpgrade: " + std::string(kProtocol) +
                    "\r\nX-Raft-Id: " + std::to_string(id) + "\r\nX-Raft-Address: " + address + "\r\n";
    if (!security.bearer_token.empty()) r += "Authorization: Bearer " + security.bearer_token + "\r\n";
    return r + "\r\n";
  }

  // Connects to `peer`, upgrades, and on a 101 leaves `stream` speaking Raft
  // with `*early` holding bytes that came after the answer.
  asio::awaitable<Status> Upgrade(http1::Stream& stream, const std::string& peer, std::string* early) {
    HostPort hp;
    asio::ip::tcp::endpoint endpoint;
    if (Status s = ParseHostPort(peer, &hp); !s.ok()) co_return s;
    if (Status s = ResolveEndpoint(hp, &endpoint); !s.ok()) co_return s;
    const auto deadline = http1::Stream::Clock::now() + kDialTimeout;
    if (auto ec = co_await stream.Connect(endpoint, deadline, security.tls)) co_return Unavailable(ec.message());
    stream.expires_at(deadline);
    const std::string request = UpgradeRequest(peer);
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), kNoThrow);
    if (write_ec) co_return Unavailable(write_ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> answer;
    auto [read_ec, n] = co_await http::async_read_header(stream, buffer, answer, kNoThrow);
    if (read_ec) co_return Unavailable(read_ec.message());
    if (answer.get().result_int() != 101) {
      co_return Unavailable("the peer answered " + std::to_string(answer.get().result_int()) + " to the upgrade");
    }
    stream.expires_never();
    early->assign(static_cast<const char*>(buffer.data().data()), buffer.size());
    co_return Status::Ok();
  }

  asio::awaitable<void> Dial(raft_uv_connect* request, std::string peer) {
    auto self = shared_from_this();
    http1::Stream stream(loop->executor());
    std::string early;
    Status s = co_await Upgrade(stream, peer, &early);
    int fds[2];
    if (s.ok()) s = SocketPair(fds);
    if (!s.ok()) {
      Log().debug("raft: cannot reach {}: {}", peer, s.ToString());
      Finish(request, nullptr, RAFT_NOCONNECTION);
      co_return;
    }
    uv_stream_t* pipe = loop && !closed ? Pipe(fds[1]) : nullptr;
    if (!pipe) close(fds[1]);
    if (!Finish(request, pipe, pipe ? 0 : RAFT_NOCONNECTION)) {
      close(fds[0]);
      co_return;
    }
    if (!pipe) {
      close(fds[0]);
      co_return;
    }
    LocalSocket local(stream.get_executor(), asio::local::stream_protocol(), fds[0]);
    co_await Splice(stream, local, std::move(early));
  }

  // The server side of an upgrade from member `id` at `address`.
  asio::awaitable<void> Accept(http1::Stream& stream, std::string early, const http1::Request& request) {
    auto self = shared_from_this();
    raft_id peer_id = 0;
    std::string peer_address;
    const std::string_view id_text = request["X-Raft-Id"];
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), peer_id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || peer_id == 0 ||
        !CanonicalNumericAddress(request["X-Raft-Address"], &peer_address).ok()) {
      Log().warn("raft: refused an upgrade without a valid X-Raft-Id and X-Raft-Address");
      co_return;
    }
    int fds[2];
    if (!SocketPair(fds).ok()) co_return;
    // libraft lives on its loop's executor, which may not be this connection's.
    asio::post(loop->executor(), [self, fd = fds[1], peer_id, peer_address] {
      uv_stream_t* pipe = self->loop && !self->closed && self->accept ? self->Pipe(fd) : nullptr;
      if (!pipe) {
        close(fd);
        return;
      }
      self->accept(&self->transport, peer_id, peer_address.c_str(), pipe);
      self->loop->Kick();
    });
    LocalSocket local(stream.get_executor(), asio::local::stream_protocol(), fds[0]);
    RaftWireCheck check(max_message_bytes);
    co_await Splice(stream, local, std::move(early), &check);
    if (!check.error().empty()) {
      Log().warn("raft: closed the connection of member {} ({}) after {} message(s): {}", peer_id, peer_address,
                 check.messages(), check.error());
    }
  }
};

RaftTransport::RaftTransport(UvLoop& loop, ClientSecurity security, uint64_t max_message_bytes)
    : state_(std::make_shared<State>()) {
  state_->loop = &loop;
  state_->security = std::move(security);
  state_->max_message_bytes = max_message_bytes;
  raft_uv_transport& transport = state_->transport;
  transport.impl = state_.get();
  transport.init = [](raft_uv_transport* t, raft_id id, const char* address) {
    State::Of(t)->id = id;
    State::Of(t)->address = address;
    return 0;
  };
  transport.listen = [](raft_uv_transport* t, raft_uv_accept_cb cb) {
    State::Of(t)->accept = cb;
    return 0;
  };
  transport.connect = [](raft_uv_transport* t, raft_uv_connect* request, raft_id, const char* address,
                         raft_uv_connect_cb cb) {
    State* s = State::Of(t);
    if (s->closed || !s->loop) return RAFT_CANCELED;
    request->cb = cb;
    s->dialing.insert(request);
    asio::co_spawn(s->loop->executor(), s->Dial(request, address), asio::detached);
    return 0;
  };
  transport.close = [](raft_uv_transport* t, raft_uv_transport_close_cb cb) {
    State* s = State::Of(t);
    s->closed = true;
    s->accept = nullptr;
    for (raft_uv_connect* request : std::exchange(s->dialing, {})) request->cb(request, nullptr, RAFT_CANCELED);
    cb(t);
  };
}

RaftTransport::~RaftTransport() {
  state_->closed = true;
  state_->loop = nullptr;
}

raft_uv_transport* RaftTransport::get() { return &state_->transport; }

Status RaftTransport::Attach(Server& server) {
  std::weak_ptr<State> weak = state_;
  return ServerUpgrades::Add(
      server, std::string(kPath), std::string(kProtocol), Role::kPeer,
      [weak](http1::Stream& stream, std::string early, const http1::Request& request) -> asio::awaitable<void> {
        std::shared_ptr<State> state = weak.lock();
        if (!state || state->closed) co_return;
        co_await state->Accept(stream, std::move(early), request);
      });
}

}  // namespace harpc::replication
