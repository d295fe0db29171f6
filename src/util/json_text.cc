#include "util/json_text.h"

#include <cmath>

#include <boost/json/parse.hpp>

namespace harpc {

namespace json = boost::json;

bool AllNumbersFinite(const json::value& value) {
  switch (value.kind()) {
    case json::kind::double_:
      return std::isfinite(value.get_double());
    case json::kind::array:
      for (const json::value& v : value.get_array()) {
        if (!AllNumbersFinite(v)) return false;
      }
      return true;
    case json::kind::object:
      for (const auto& member : value.get_object()) {
        if (!AllNumbersFinite(member.value())) return false;
      }
      return true;
    default:
      return true;
  }
}

Status ParseJsonText(std::string_view text, json::value* out) {
  boost::system::error_code ec;
  *out = json::parse(text, ec);  // nesting is bounded by Boost.JSON's default depth limit (32)
  if (ec) return InvalidArgument(ec.message());
  if (!AllNumbersFinite(*out)) {
    *out = nullptr;
    return InvalidArgument("a number is out of range (JSON numbers must fit a double)");
  }
  return Status::Ok();
}

}  // namespace harpc
