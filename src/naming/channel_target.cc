// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Channel(target, options): the target's scheme picks a resolver from this
// layer, and the client layer's Channel runs on it.
#include <memory>

#include "client/channel_impl.h"
#include "harpc/channel.h"
#include "naming/resolver.h"

namespace harpc {

Channel::Channel(std::string_view target, ChannelOptions options) {
  std::unique_ptr<Resolver> resolver;
  Status resolved = MakeResolver(target, options.security, &resolver);
  impl_ = std::make_unique<Impl>(target, std::move(resolved), std::move(resolver), std::move(options));
}

}  // namespace harpc
