// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// file:///path targets: a JSON file listing the endpoints,
//   [{"address": "127.0.0.1:8001", "weight": 5}, {"address": "127.0.0.1:8002"}]
// (or {"endpoints": [...]}), checked every 500 ms and reloaded when its size
// or modification time changes. A file that cannot be read or parsed keeps
// the last good membership (and says why in the log).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "naming/resolver.h"
#include "util/stop_signal.h"

namespace harpc {

class FileResolver final : public Resolver {
 public:
  explicit FileResolver(std::string path) : path_(std::move(path)) {}
  void Start(boost::asio::any_io_executor executor, Listener listener) override;
  void Stop() override { watch_.Stop(); }

  // Parses the file's text; exposed for tests.
  static Status Parse(std::string_view text, std::vector<EndpointSpec>* out);

 private:
  std::string path_;
  StopSignal watch_;
};

}  // namespace harpc
