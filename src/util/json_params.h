// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Reading method params: one clear INVALID_ARGUMENT per malformed member.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/value.hpp>

#include "harpc/status.h"

namespace harpc {

// Reads the string member `name` of the params object into `out`; leaves
// `out` alone when the member is absent and not `required`.
Status StringField(const boost::json::value& params, const char* name, bool required, std::string* out);

// The same for an integer member (a JSON number without fraction).
Status IntField(const boost::json::value& params, const char* name, bool required, int64_t* out);

}  // namespace harpc
