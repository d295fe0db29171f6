// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Channels to peers named by address ("H:P", or a group's "list://H:P,..."), all on one loop (a server's):
// made on first use, then reused. Memory stays bounded by an LRU cap: beyond
// `capacity` addresses the least recently used channel is dropped (a caller
// still holding it finishes its calls; the next Get makes a new one). No
// channel starts a thread. Used on that loop only.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "harpc/channel.h"

namespace harpc {

class PeerChannels {
 public:
  // `options.executor` is the loop every channel runs on; it must be set.
  explicit PeerChannels(ChannelOptions options, size_t capacity = 256);

  // The channel to "list://" + address (to `address` itself when it is a list:// target).
  std::shared_ptr<Channel> Get(const std::string& address);
  size_t size() const { return by_address_.size(); }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<Channel>>;
  ChannelOptions options_;
  size_t capacity_;
  std::list<Entry> recent_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_address_;
};

}  // namespace harpc
