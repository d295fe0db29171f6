// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "client/jsonrpc_batch.h"

#include <unordered_map>

#include <boost/json/serialize.hpp>

#include "client/http_exchange.h"

namespace harpc {

namespace json = boost::json;

std::vector<CallResult> FailEveryCall(size_t calls, const Status& status) {
  std::vector<CallResult> results(calls);
  for (CallResult& r : results) r.status = status;
  return results;
}

std::vector<CallResult> SplitBatchAnswer(const std::vector<BatchCall>& calls, uint64_t first_id, CallResult batch) {
  std::vector<CallResult> results(calls.size());
  for (CallResult& r : results) {
    r.endpoint = batch.endpoint;
    r.attempts = batch.attempts;
    r.hedged = batch.hedged;
  }
  // Failed as a whole, or swallowed as a whole (failsafe): every call alike.
  if (!batch.ok() || !batch.suppressed.ok()) {
    for (CallResult& r : results) {
      r.status = batch.status;
      r.suppressed = batch.suppressed;
    }
    return results;
  }

  std::unordered_map<uint64_t, const json::object*> by_id;
  Status unidentified;  // an error answered with "id": null
  if (batch.value.is_array()) {
    for (const json::value& answer : batch.value.as_array()) {
      const json::object* o = answer.if_object();
      const json::value* id = o ? o->if_contains("id") : nullptr;
      if (!id) continue;
      boost::system::error_code not_ours;
      const uint64_t n = id->to_number<uint64_t>(not_ours);
      if (!not_ours && n >= first_id && n - first_id < calls.size()) {
        by_id.emplace(n, o);
      } else if (id->is_null() && o->contains("error") && unidentified.ok()) {
        unidentified = JsonRpcErrorStatus(o->at("error"), json::serialize(answer));
      }
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    CallResult& r = results[i];
    if (calls[i].notification) continue;  // OK, null: delivered
    auto it = by_id.find(first_id + i);
    if (it == by_id.end()) {
      r.status = !unidentified.ok() ? unidentified
                                    : Status(StatusCode::kUnknown, "the batch answer from " + batch.endpoint +
                                                                       " holds no response for this call");
      continue;
    }
    const json::object& answer = *it->second;
    if (const json::value* error = answer.if_contains("error")) {
      r.status = JsonRpcErrorStatus(*error, json::serialize(answer));
    } else if (const json::value* result = answer.if_contains("result")) {
      r.value = *result;
    } else {
      r.status =
          Status(StatusCode::kUnknown, "not a JSON-RPC 2.0 response: " + OneLineExcerpt(json::serialize(answer)));
    }
  }
  return results;
}

}  // namespace harpc
