// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What a caller gets when the answer to its request would pass the server's
// max_answer_bytes: the dispatcher answers it, and the idempotency store
// replays it for a repeat of that request.
#pragma once

#include <cstddef>
#include <string>

#include "harpc/status.h"

namespace harpc {

inline Status AnswerTooLarge(std::size_t limit) {
  return Internal("answer too large: it exceeds the server's limit of " + std::to_string(limit) +
                  " bytes (max_answer_bytes)");
}

}  // namespace harpc
