// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The Date header's value (RFC 9110 §5.6.7 IMF-fixdate, e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT"): formatted at most once a second per thread.
#pragma once

#include <ctime>
#include <string_view>

namespace harpc::http1 {

// Now, valid until the calling thread's next call.
std::string_view HttpDate();
// `t` (seconds since the epoch), into `out` (29 characters); what was written.
std::string_view FormatHttpDate(std::time_t t, char (&out)[32]);

}  // namespace harpc::http1
