// One request and its response on one client connection, and what the
// outcome means for retrying: whether the request may have reached the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "http/client.h"
#include "http/connection_pool.h"
#include "harpc/status.h"
#include "harpc/trace.h"

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
  std::string_view bearer_token;  // "Authorization: Bearer ..."; empty: none sent
  const TraceContext* trace = nullptr;  // traceparent (and tracestate) naming this span; null: none sent
};

// "POST /rpc/<method>" (or "POST /rpc" for the default method "/") with the body.
std::string FormatRequest(std::string_view host, std::string_view method, std::string_view body,
                          const RequestHeaders& headers);

// A JSON-RPC 2.0 request: "POST <path>" with {"jsonrpc":"2.0","method":M,
// "params":P,"id":ID} (no "params" when null). INVALID_ARGUMENT when params
// is neither an array, an object nor null, as JSON-RPC 2.0 requires.
Status JsonRpcRequestBody(std::string_view method, const boost::json::value& params, uint64_t id, std::string* out);
std::string FormatJsonRpcRequest(std::string_view host, std::string_view path, std::string_view body,
                                 const RequestHeaders& headers);

// The limits of an RPC answer: a head of at most 64 KiB, a body of at most
// ChannelOptions::max_response_bytes.
http1::ResponseLimits AnswerLimits(size_t max_response_bytes);

// What one exchange on `connection` (http1::Exchange) means for the call: an
// answer, or how far the request got before it failed. A plain function, not
// a coroutine, so that an attempt costs one coroutine frame for its I/O.
// `peer` names the server in messages ("no answer from 127.0.0.1:8001 ...").
AttemptOutcome OutcomeOf(const http1::ClientResponse& response, std::string_view peer, bool jsonrpc);

// The Status and value an HTTP answer stands for: JSON error bodies decoded,
// a 2xx JSON-RPC 2.0 error envelope an error too, other bodies of error
// answers cut to a one-line excerpt. `jsonrpc`: the answer to a JSON-RPC 2.0
// request, whose value is the envelope's "result".
AttemptOutcome InterpretResponse(int http_status, std::string_view body, bool jsonrpc = false);

// `text` on one line (every run of blanks and line breaks one space), cut
// to about `max` bytes with "..." when longer: what an error message quotes
// of a body it did not understand.
std::string OneLineExcerpt(std::string_view text, size_t max = 160);

}  // namespace harpc
