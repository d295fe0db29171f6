// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/peer_channels.h"

#include <cassert>

namespace harpc {

PeerChannels::PeerChannels(ChannelOptions options, size_t capacity)
    : options_(std::move(options)), capacity_(std::max<size_t>(capacity, 1)) {
  assert(options_.executor && "PeerChannels needs the loop its channels run on");
}

std::shared_ptr<Channel> PeerChannels::Get(const std::string& address) {
  if (auto it = by_address_.find(address); it != by_address_.end()) {
    recent_.splice(recent_.begin(), recent_, it->second);
    return it->second->second;
  }
  if (recent_.size() >= capacity_) {
    by_address_.erase(recent_.back().first);
    recent_.pop_back();
  }
  recent_.emplace_front(
      address, std::make_shared<Channel>(address.starts_with("list://") ? address : "list://" + address, options_));
  by_address_[address] = recent_.begin();
  return recent_.front().second;
}

}  // namespace harpc
