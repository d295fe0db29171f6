// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/static_resolver.h"

namespace harpc {

void StaticResolver::Start(boost::asio::any_io_executor, Listener listener) { listener(endpoints_); }

}  // namespace harpc
