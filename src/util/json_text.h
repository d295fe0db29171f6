// Parsing JSON that comes from outside. Boost.JSON reads a number beyond the
// double range (1e400) as infinity, which no JSON text can express: stored
// and written back, it becomes "Infinity", which no parser accepts. So a
// number out of range is refused here, where untrusted JSON comes in.
#pragma once

#include <string_view>

#include <boost/json/value.hpp>

#include "harpc/status.h"

namespace harpc {

// Parses `text` into `*out`: INVALID_ARGUMENT when it is not JSON, or when a
// number does not fit a double; the message is the reason alone, for the
// caller to say what was being read.
Status ParseJsonText(std::string_view text, boost::json::value* out);

// True when every number in `value` is finite (what JSON can write).
bool AllNumbersFinite(const boost::json::value& value);

}  // namespace harpc
