// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "replication/raft_wire_check.h"

#include <algorithm>

namespace harpc::replication {

namespace {
// libraft's message types (raft.h: RAFT_IO_*).
enum : uint64_t {
  kAppendEntries = 1,
  kAppendEntriesResult = 2,
  kRequestVote = 3,
  kRequestVoteResult = 4,
  kInstallSnapshot = 5,
  kTimeoutNow = 6,
};
// Entry headers are buffered whole; a real batch needs 16 bytes per entry.
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;

uint64_t Get(std::string_view bytes, size_t at, size_t width) {
  uint64_t v = 0;
  for (size_t i = width; i-- > 0;) v = v << 8 | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

// A configuration as libraft encodes it: u8 format 1, u64 n, then n ×
// (u64 id, NUL-terminated address, u8 role 0..2). Empty when it is valid.
std::string ConfigurationError(std::string_view conf) {
  if (conf.size() < 9 || conf[0] != 1) return "a configuration without its format and count";
  const uint64_t n = Get(conf, 1, 8);
  size_t at = 9;
  for (uint64_t i = 0; i < n; ++i) {
    if (conf.size() - at < 8) return "a configuration shorter than its servers";
    at += 8;
    const size_t nul = conf.find('\0', at);
    if (nul == std::string_view::npos || nul == at) return "a configuration server without an address";
    at = nul + 1;
    if (at >= conf.size() || static_cast<uint8_t>(conf[at]) > 2) return "a configuration server without a valid role";
    ++at;
  }
  return {};
}
}  // namespace

bool RaftWireCheck::Fail(std::string why) {
  error_ = std::move(why);
  return false;
}

bool RaftWireCheck::Feed(std::string_view bytes) {
  if (!error_.empty()) return false;
  while (!bytes.empty()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(wanted_, bytes.size()));
    if (part_ != Part::kPayload) buffer_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    wanted_ -= n;
    if (wanted_ > 0) break;
    bool ok = true;
    switch (part_) {
      case Part::kPreamble:
        ok = PreambleDone();
        break;
      case Part::kHeader:
        ok = HeaderDone();
        break;
      case Part::kPayload:
        ++messages_;
        part_ = Part::kPreamble;
        wanted_ = 16;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

bool RaftWireCheck::PreambleDone() {
  type_ = Get(buffer_, 0, 8);
  const uint64_t header = Get(buffer_, 8, 8);
  buffer_.clear();
  if (type_ < kAppendEntries || type_ > kTimeoutNow) return Fail("unknown message type " + std::to_string(type_));
  if (header == 0) return Fail("a message with an empty header");
  if (header > std::min(kMaxHeaderBytes, max_message_bytes_)) {
    return Fail("a header of " + std::to_string(header) + " bytes");
  }
  part_ = Part::kHeader;
  wanted_ = header;
  return true;
}

bool RaftWireCheck::HeaderDone() {
  const std::string_view h = buffer_;
  // The fields libraft reads, whatever the header length claims.
  uint64_t needed = 0;
  uint64_t payload = 0;
  switch (type_) {
    case kRequestVote:  // version 1 has no flags
      needed = h.size() == 32 ? 32 : 40;
      break;
    case kRequestVoteResult:  // version 1 has no flags
      needed = h.size() == 16 ? 16 : 24;
      break;
    case kAppendEntriesResult:
    case kTimeoutNow:
      needed = 24;
      break;
    case kAppendEntries: {
      if (h.size() < 40) return Fail("an AppendEntries header of " + std::to_string(h.size()) + " bytes");
      const uint64_t entries = Get(h, 32, 8);
      if (entries > (h.size() - 40) / 16) return Fail(std::to_string(entries) + " entries in a shorter header");
      needed = 40 + 16 * entries;
      for (uint64_t i = 0; i < entries; ++i) {
        const size_t at = static_cast<size_t>(40 + 16 * i);
        const uint64_t kind = Get(h, at + 8, 1);
        const uint64_t length = Get(h, at + 12, 4);
        if (kind < 1 || kind > 3) return Fail("an entry of unknown type " + std::to_string(kind));
        if (length % 8 != 0) return Fail("an entry of " + std::to_string(length) + " bytes, not a multiple of 8");
        payload += length;  // at most 2^32 × 2^22 entries: no overflow
      }
      break;
    }
    case kInstallSnapshot: {
      if (h.size() < 48) return Fail("an InstallSnapshot header of " + std::to_string(h.size()) + " bytes");
      const uint64_t conf = Get(h, 32, 8);
      if (conf > h.size() - 48)
        return Fail("a configuration of " + std::to_string(conf) + " bytes in a shorter header");
      if (std::string why = ConfigurationError(h.substr(40, static_cast<size_t>(conf))); !why.empty()) {
        return Fail(why);
      }
      needed = 48 + conf;
      payload = Get(h, static_cast<size_t>(40 + conf), 8);
      break;
    }
  }
  if (h.size() < needed)
    return Fail("a header of " + std::to_string(h.size()) + " bytes for message type " + std::to_string(type_));
  if (payload > max_message_bytes_ - h.size()) {
    return Fail("a message of more than " + std::to_string(max_message_bytes_) + " bytes");
  }
  buffer_.clear();
  if (payload == 0) {
    ++messages_;
    part_ = Part::kPreamble;
    wanted_ = 16;
  } else {
    part_ = Part::kPayload;
    wanted_ = payload;
  }
  return true;
}

}  // namespace harpc::replication
