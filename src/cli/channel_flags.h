// The channel options that `harpc call` and `harpc bench` share.
#pragma once

#include <CLI/CLI.hpp>

#include "harpc/channel.h"

namespace harpc::cli {

struct ChannelFlags {
  std::string lb = "wrr";
  int timeout_ms = 1000;
  int connect_timeout_ms = 200;
  int retries = 2;

  ChannelOptions ToOptions() const;
};

void AddChannelFlags(CLI::App* cmd, ChannelFlags& flags);

}  // namespace harpc::cli
