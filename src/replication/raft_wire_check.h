// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Checks the Raft messages a peer sends, before libraft reads them.
//
// libraft decodes its wire format trusting every length in it: a header
// shorter than its fields is read past its end, an entry count or a payload
// length is allocated as given, an entry whose length is not a multiple of 8
// shifts the next ones out of the buffer. Any client that can upgrade a
// connection to "harpc-raft/1" could feed it such bytes. The transport
// passes every byte a peer sends through this check and closes the
// connection at the first one that does not fit libraft's format (v0.15):
//
//   preamble  u64 type (1..6), u64 header length
//   header    the type's fields; AppendEntries: 4 × u64, u64 n, n × 16-byte
//             entry headers (u64 term, u8 type 1..3, 3 unused, u32 length,
//             a multiple of 8); InstallSnapshot: 4 × u64, u64 conf length,
//             the configuration, u64 data length
//   payload   AppendEntries: the entries' bytes; InstallSnapshot: the data
//
// all little-endian. Lengths are capped so that no message makes libraft
// allocate more than `max_message_bytes`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace harpc::replication {

class RaftWireCheck {
 public:
  explicit RaftWireCheck(uint64_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Takes the next bytes of the stream. False, with error() saying why, at
  // the first byte that breaks the format; the stream is then over.
  bool Feed(std::string_view bytes);
  const std::string& error() const { return error_; }
  // Whole messages seen so far.
  uint64_t messages() const { return messages_; }

 private:
  bool Fail(std::string why);
  bool PreambleDone();
  bool HeaderDone();

  const uint64_t max_message_bytes_;
  enum class Part { kPreamble, kHeader, kPayload } part_ = Part::kPreamble;
  std::string buffer_;  // the preamble or header being read
  uint64_t type_ = 0;
  uint64_t wanted_ = 16;  // bytes of the current part still to come
  uint64_t messages_ = 0;
  std::string error_;
};

}  // namespace harpc::replication
