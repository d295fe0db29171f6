// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/address.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

namespace harpc {

namespace asio = boost::asio;

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Status ParseHostPort(std::string_view text, HostPort* out, bool allow_port_zero) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("bad address '" + std::string(text) + "': " + std::string(why) + " (expected host:port)");
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("unterminated [ipv6]");
    if (close + 1 >= text.size()) return bad("no port");
    if (text[close + 1] != ':') return bad("expected ':' after ']'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("ipv6 addresses need [brackets]");
  }
  if (host.empty()) return bad("empty host");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  if (value == 0 && !allow_port_zero) return bad("port 0");
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Status ResolveEndpoint(const HostPort& hp, asio::ip::tcp::endpoint* out) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(hp.host, ec);
  if (!ec) {
    *out = asio::ip::tcp::endpoint(addr, hp.port);
    return Status::Ok();
  }
  asio::io_context ctx;
  asio::ip::tcp::resolver resolver(ctx);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) {
    return Unavailable("cannot resolve '" + hp.host + "': " + ec.message());
  }
  *out = results.begin()->endpoint();
  return Status::Ok();
}

std::string ToString(const asio::ip::tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

bool SameListener(std::string_view a, std::string_view b) {
  HostPort x, y;
  if (!ParseHostPort(a, &x, true).ok() || !ParseHostPort(b, &y, true).ok()) return a == b;
  if (x.port != y.port) return false;
  boost::system::error_code ex, ey;
  const auto ax = asio::ip::make_address(x.host, ex);
  const auto ay = asio::ip::make_address(y.host, ey);
  if (ex || ey) return x.host == y.host;
  return ax == ay || ax.is_unspecified() || ay.is_unspecified();
}

Status CanonicalNumericAddress(std::string_view text, std::string* out) {
  HostPort hp;
  if (Status s = ParseHostPort(text, &hp); !s.ok()) return s;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(hp.host, ec);
  if (ec) return InvalidArgument("'" + std::string(text) + "' is not a numeric address (no name lookups here)");
  *out = ToString(asio::ip::tcp::endpoint(address, hp.port));
  return Status::Ok();
}

Status CanonicalPeerTarget(std::string_view text, std::string* out) {
  constexpr std::string_view kList = "list://";
  if (!text.starts_with(kList)) return CanonicalNumericAddress(text, out);
  std::vector<std::string> members;
  std::string_view rest = text.substr(kList.size());
  for (;;) {
    const size_t comma = rest.find(',');
    std::string member;
    if (Status s = CanonicalNumericAddress(rest.substr(0, comma), &member); !s.ok()) {
      return InvalidArgument("'" + std::string(text) + "': " + s.message());
    }
    members.push_back(std::move(member));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(members.begin(), members.end());
  if (std::adjacent_find(members.begin(), members.end()) != members.end()) {
    return InvalidArgument("'" + std::string(text) + "' names a member twice");
  }
  std::string joined(kList);
  for (size_t i = 0; i < members.size(); ++i) joined += (i ? "," : "") + members[i];
  *out = std::move(joined);
  return Status::Ok();
}

Status ParseHostPortList(std::string_view list, std::string_view what, std::vector<std::string>* out) {
  const std::string name(what);
  if (list.empty()) return InvalidArgument("no " + name + " address");
  std::vector<std::string> addresses;
  std::set<std::string, std::less<>> seen;
  std::string_view rest = list;
  for (;;) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    HostPort hp;
    if (item.empty()) return InvalidArgument("empty " + name + " address in '" + std::string(list) + "'");
    if (Status s = ParseHostPort(item, &hp); !s.ok()) return InvalidArgument(name + " " + s.message());
    if (!seen.insert(std::string(item)).second) {
      return InvalidArgument(name + " " + std::string(item) + " is listed twice");
    }
    addresses.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  *out = std::move(addresses);
  return Status::Ok();
}

}  // namespace harpc
