// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/json_text.h"

#include <algorithm>
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

namespace {
Status RefuseNonFinite(json::value* out) {
  if (AllNumbersFinite(*out)) return Status::Ok();
  *out = nullptr;
  return InvalidArgument("a number is out of range (JSON numbers must fit a double)");
}
}  // namespace

Status ParseJsonText(std::string_view text, json::value* out) {
  boost::system::error_code ec;
  *out = json::parse(text, ec);  // nesting is bounded by Boost.JSON's default depth limit (32)
  if (ec) return InvalidArgument(ec.message());
  return RefuseNonFinite(out);
}

std::size_t JsonArrayLength(std::string_view text) {
  std::size_t depth = 0;
  std::size_t commas = 0;
  bool in_string = false;
  bool any = false;  // an element at depth 1
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, a quote included
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        break;
      case '[':
      case '{':
        if (depth == 1) any = true;
        ++depth;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      case ',':
        if (depth == 1) ++commas;
        break;
      case '"':
        in_string = true;
        [[fallthrough]];
      default:
        if (depth == 1) any = true;
    }
  }
  return any ? commas + 1 : 0;
}

bool JsonTextReader::Read(std::size_t slice) {
  if (error_ || rest_.empty()) return true;
  const std::size_t n = std::min(slice, rest_.size());
  parser_.write(rest_.data(), n, error_);
  rest_.remove_prefix(n);
  return error_ || rest_.empty();
}

Status JsonTextReader::Finish(json::value* out) {
  if (!error_) parser_.finish(error_);
  if (error_) {
    *out = nullptr;
    return InvalidArgument(error_.message());
  }
  *out = parser_.release();
  return RefuseNonFinite(out);
}

}  // namespace harpc

namespace harpc {

JsonTextWriter::JsonTextWriter(std::string& out, std::size_t limit, const json::value& value)
    : out_(out), limit_(std::min(limit, out.max_size() - 1)), start_(out.size()) {
  serializer_.reset(&value);
}

JsonTextWriter::Progress JsonTextWriter::Write(std::size_t slice) {
  // Read through a buffer on the stack, as json::serialize does: a small
  // answer costs one allocation of its own size.
  char chunk[4096];
  std::size_t written = 0;
  while (!serializer_.done()) {
    if (written >= slice) return kMore;
    const std::size_t room = limit_ - out_.size();
    // One byte past the room is enough to know the text does not fit.
    const std::size_t n = serializer_.read(chunk, std::min(sizeof chunk, room + 1)).size();
    if (n > room) {
      out_.resize(start_);
      return kTooLarge;
    }
    out_.append(chunk, n);
    written += n;
  }
  return kDone;
}

}  // namespace harpc
