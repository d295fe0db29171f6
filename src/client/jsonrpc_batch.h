// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The answers of a JSON-RPC 2.0 batch handed back to its calls: each
// response object goes to the call whose id it carries.
#pragma once

#include <cstdint>
#include <vector>

#include "harpc/channel.h"

namespace harpc {

// `batch` is the outcome of the whole batch, whose calls had the ids
// first_id, first_id + 1, ... in order (notifications none). Each result
// keeps the batch's endpoint, attempts and hedged. A call the answer has no
// response for fails UNKNOWN, or with the error the server answered without
// an id (a call it could not read), when there is one.
std::vector<CallResult> SplitBatchAnswer(const std::vector<BatchCall>& calls, uint64_t first_id, CallResult batch);

// One result per call, each failed with `status`.
std::vector<CallResult> FailEveryCall(size_t calls, const Status& status);

}  // namespace harpc
