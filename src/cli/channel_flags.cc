#include "cli/channel_flags.h"

namespace harpc::cli {

ChannelOptions ChannelFlags::ToOptions() const {
  ChannelOptions o;
  o.lb = lb;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
  o.max_retries = retries;
  return o;
}

void AddChannelFlags(CLI::App* cmd, ChannelFlags& f) {
  cmd->add_option("--lb", f.lb, "Load balancer: wrr (smooth weighted round robin) or rr")
      ->check(CLI::IsMember({"wrr", "rr"}))->capture_default_str();
  cmd->add_option("--timeout-ms", f.timeout_ms, "Deadline of a whole call, all attempts included")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--connect-timeout-ms", f.connect_timeout_ms, "Longest wait for a TCP connection")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--retries", f.retries,
                  "Extra attempts on other endpoints for failures that did not reach a server")
      ->check(CLI::Range(0, 10))->capture_default_str();
}

}  // namespace harpc::cli
