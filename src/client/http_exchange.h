// One request and its response on one client connection, and what the
// outcome means for retrying: whether the request may have reached the server.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "http/connection_pool.h"
#include "harpc/status.h"

namespace harpc {

// How far a failed attempt got. Only kNotSent failures are always safe to retry.
enum class AttemptStage {
  kNotSent,   // no byte of the request left this process (e.g. connect refused)
  kMaybeSent, // written, no answer (timeout, reset): the server may have run it
  kAnswered,  // the server answered (the status says how)
};

struct AttemptOutcome {
  Status status;
  boost::json::value value;
  AttemptStage stage = AttemptStage::kNotSent;
  bool reusable = false;   // the connection may go back to the pool
  bool peer_gone = false;  // refused or reset: the server process is likely gone
};

struct RequestHeaders {
  std::chrono::milliseconds deadline_in{0};  // X-Deadline-Ms; 0: none sent
  std::string_view idempotency_key;
  std::string_view request_id;
};

// "POST /rpc/<method>" (or "POST /rpc" for the default method "/") with the body.
std::string FormatRequest(std::string_view host, std::string_view method, std::string_view body,
                          const RequestHeaders& headers);

// Writes `request` and reads the answer, giving up at `deadline`.
boost::asio::awaitable<AttemptOutcome> Exchange(ClientConnection& connection, const std::string& request,
                                                std::chrono::steady_clock::time_point deadline,
                                                size_t max_response_bytes);

// The Status and value an HTTP answer stands for (JSON error bodies decoded).
AttemptOutcome InterpretResponse(int http_status, std::string_view body);

}  // namespace harpc
