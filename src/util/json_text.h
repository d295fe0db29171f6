// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// JSON text in and out of a server. Boost.JSON reads a number beyond the
// double range (1e400) as infinity, which no JSON text can express: stored
// and written back, it becomes "Infinity", which no parser accepts. So a
// number out of range is refused here, where untrusted JSON comes in. Large
// texts are read and written a slice at a time, so that an event loop can
// serve others between slices, and written within a size limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/serializer.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include "harpc/status.h"

namespace harpc {

// Parses `text` into `*out`: INVALID_ARGUMENT when it is not JSON, or when a
// number does not fit a double; the message is the reason alone, for the
// caller to say what was being read.
Status ParseJsonText(std::string_view text, boost::json::value* out);

// ParseJsonText a slice at a time, for texts large enough to hold a loop:
//
//   JsonTextReader reader(text);
//   while (!reader.Read(256 * 1024)) { /* yield */ }
//   Status s = reader.Finish(&value);
class JsonTextReader {
 public:
  // `text` must outlive the reading.
  explicit JsonTextReader(std::string_view text) : rest_(text) {}
  // Parses about `slice` more bytes; true when the text is read (or wrong).
  bool Read(std::size_t slice);
  // What ParseJsonText would answer for the whole text.
  Status Finish(boost::json::value* out);

 private:
  std::string_view rest_;
  boost::json::stream_parser parser_;
  boost::system::error_code error_;
};

// The number of elements of the JSON array `text`, counted from its commas
// without building it (a byte scan: a large text's parse and values can be
// refused before they cost anything). Meaningful only when `text` is a valid
// JSON array; 0 when it holds none.
std::size_t JsonArrayLength(std::string_view text);

// True when every number in `value` is finite (what JSON can write).
bool AllNumbersFinite(const boost::json::value& value);

// Writes a value's JSON text at the end of a string, a slice at a time, and
// never lets the string grow past a limit: an answer is never buffered beyond
// what its writer allows, and a large one can be written between turns of an
// event loop instead of in one go.
//
//   JsonTextWriter writer(out, limit, value);
//   JsonTextWriter::Progress p;
//   while ((p = writer.Write(256 * 1024)) == JsonTextWriter::kMore) { /* yield */ }
class JsonTextWriter {
 public:
  enum Progress { kDone, kMore, kTooLarge };
  // `value` must outlive the writing; `out` keeps what it holds, and must
  // not be touched by others until Write returns kDone or kTooLarge.
  // `limit` is the most `out` may hold in all.
  JsonTextWriter(std::string& out, std::size_t limit, const boost::json::value& value);
  // Writes about `slice` more bytes (at least one slice of the serializer).
  // kTooLarge: `out` would pass `limit`; it is back to what it held before.
  Progress Write(std::size_t slice);

 private:
  std::string& out_;
  std::size_t limit_;
  std::size_t start_;
  boost::json::serializer serializer_;
};

}  // namespace harpc
