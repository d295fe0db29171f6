// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// One request and its response on one client connection, and what the
// outcome means for retrying: whether the request may have reached the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "harpc/status.h"
#include "harpc/trace.h"
#include "http/client.h"
#include "http/connection_pool.h"

namespace harpc {

// How far a failed attempt got. Only kNotSent failures are always safe to retry.
enum class AttemptStage {
  kNotSent,    // no byte of the request left this process (e.g. connect refused)
  kMaybeSent,  // written, no answer (timeout, reset): the server may have run it
  kAnswered,   // the server answered (the status says how)
};

struct AttemptOutcome {
  Status status;
  boost::json::value value;
  AttemptStage stage = AttemptStage::kNotSent;
  bool reusable = false;   // the connection may go back to the pool
  bool peer_gone = false;  // refused or reset: the server process is likely gone
};

// What an answer must look like, after what the request was.
enum class AnswerForm {
  kPlain,         // harpc's POST /rpc/<Method>: the body is the result
  kJsonRpc,       // one JSON-RPC 2.0 request: a response object, its "result" the value
  kJsonRpcBatch,  // a JSON-RPC 2.0 batch: an array of response objects (the value as is),
                  // nothing when it held only notifications, or one error for the whole batch
  kNotification,  // a JSON-RPC 2.0 notification: nothing (204 or an empty 2xx), or an error
};

struct RequestHeaders {
  std::chrono::milliseconds deadline_in{0};  // X-Deadline-Ms; 0: none sent
  std::string_view idempotency_key;
  std::string_view request_id;
  std::string_view bearer_token;        // "Authorization: Bearer ..."; empty: none sent
  const TraceContext* trace = nullptr;  // traceparent (and tracestate) naming this span; null: none sent
};

// "POST /rpc/<method>" (or "POST /rpc" for the default method "/") with the body.
std::string FormatRequest(std::string_view host, std::string_view method, std::string_view body,
                          const RequestHeaders& headers);

// A JSON-RPC 2.0 request object appended to `out`: {"jsonrpc":"2.0","method":M,
// "params":P,"id":ID} (no "params" when null; no "id" when none: a
// notification). INVALID_ARGUMENT when params is neither an array, an object nor
// null, as JSON-RPC 2.0 requires.
Status AppendJsonRpcRequest(std::string_view method, const boost::json::value& params, std::optional<uint64_t> id,
                            std::string* out);
// "POST <path>" with a JSON-RPC 2.0 body (a request, a notification or a batch).
std::string FormatJsonRpcRequest(std::string_view host, std::string_view path, std::string_view body,
                                 const RequestHeaders& headers);

// The limits of an RPC answer: a head of at most 64 KiB, a body of at most
// ChannelOptions::max_response_bytes.
http1::ResponseLimits AnswerLimits(size_t max_response_bytes);

// What one exchange on `connection` (http1::Exchange) means for the call: an
// answer, or how far the request got before it failed. A plain function, not
// a coroutine, so that an attempt costs one coroutine frame for its I/O.
// `peer` names the server in messages ("no answer from 127.0.0.1:8001 ...").
// `connect_timeout` is the channel's, for the message of a connect that took too long.
AttemptOutcome OutcomeOf(const http1::ClientResponse& response, std::string_view peer, AnswerForm form,
                         std::chrono::milliseconds connect_timeout);

// The Status and value an HTTP answer stands for: JSON error bodies decoded,
// a 2xx JSON-RPC 2.0 error envelope an error too, other bodies of error
// answers cut to a one-line excerpt; `form` says what a 2xx must hold.
AttemptOutcome InterpretResponse(int http_status, std::string_view body, AnswerForm form = AnswerForm::kPlain);

// The Status of a JSON-RPC 2.0 error object (standard and harpc codes
// mapped, others kept in the message); UNKNOWN quoting `answer` when it is
// not a well-formed error object.
Status JsonRpcErrorStatus(const boost::json::value& error, std::string_view answer);

// `text` on one line (every run of blanks and line breaks one space), cut
// to about `max` bytes with "..." when longer: what an error message quotes
// of a body it did not understand.
std::string OneLineExcerpt(std::string_view text, size_t max = 160);

}  // namespace harpc
