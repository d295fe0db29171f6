// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// "host:port" strings, as every command-line flag and target spells them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "harpc/status.h"

namespace harpc {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

// Accepts "127.0.0.1:8001", "localhost:8001", "[::1]:8001". Port 0 is allowed
// only when allow_port_zero (listening: pick a free port).
Status ParseHostPort(std::string_view text, HostPort* out, bool allow_port_zero = false);

// "H:P[,H:P]" (a naming service's members, as sentinel:// and etcd:// targets
// list them): at least one address, each valid, none twice. `what` ("sentinel",
// "etcd") names them in errors.
Status ParseHostPortList(std::string_view list, std::string_view what, std::vector<std::string>* out);

// Numeric addresses resolve without a lookup; other names go through the resolver.
Status ResolveEndpoint(const HostPort& hp, boost::asio::ip::tcp::endpoint* out);

std::string ToString(const boost::asio::ip::tcp::endpoint& ep);

// Whether two "host:port" strings name the same listener: numeric addresses
// are compared as addresses (an unspecified one, 0.0.0.0 or ::, matches every
// address of its port), names as written (no lookup).
bool SameListener(std::string_view a, std::string_view b);

// A numeric "host:port" in one spelling ("127.000.000.001:80" and
// "127.0.0.1:80" give "127.0.0.1:80"), for addresses a peer names and that
// are compared or dialled without a name lookup. Names are refused.
Status CanonicalNumericAddress(std::string_view text, std::string* out);

// Where a peer is reached: one numeric "host:port", or a replicated group as
// "list://H:P,H:P,..." (numeric, at least one, no repeats), in one spelling:
// the canonical address, or "list://" and the canonical members sorted. A
// peer registers it, and PeerChannels dials either form.
Status CanonicalPeerTarget(std::string_view text, std::string* out);

}  // namespace harpc
