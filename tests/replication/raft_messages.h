// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Raft messages encoded as libraft 0.15 sends them (little-endian), for
// tests that feed a member's Raft transport bytes of their own.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace harpc::testing::raft_messages {

inline void Put(std::string* out, uint64_t v, int width = 8) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

inline std::string Message(uint64_t type, const std::string& header, const std::string& payload = "") {
  std::string m;
  Put(&m, type);
  Put(&m, header.size());
  return m + header + payload;
}

inline std::string Words(std::initializer_list<uint64_t> words) {
  std::string s;
  for (uint64_t w : words) Put(&s, w);
  return s;
}

struct Entry {
  uint64_t term = 1;
  uint8_t type = 1;  // RAFT_COMMAND
  uint32_t length = 8;
};

// As libraft sends it: 4 words, the batch (count, 16 bytes per entry), one
// unused word (its size counts a leader id it never writes), then the data.
inline std::string AppendEntries(const std::vector<Entry>& entries) {
  std::string h = Words({3, 10, 2, 9});
  Put(&h, entries.size());
  std::string payload;
  for (const Entry& e : entries) {
    Put(&h, e.term);
    Put(&h, e.type, 1);
    Put(&h, 0, 3);
    Put(&h, e.length, 4);
    payload += std::string(e.length, 'x');
  }
  Put(&h, 0);
  return Message(1, h, payload);
}

inline std::string Configuration(uint64_t servers, uint8_t role = 1) {
  std::string c(1, '\1');
  Put(&c, servers);
  for (uint64_t i = 1; i <= servers; ++i) {
    Put(&c, i);
    c += "127.0.0.1:700" + std::to_string(i);
    c.push_back('\0');
    c.push_back(static_cast<char>(role));
  }
  c.resize((c.size() + 7) / 8 * 8, '\0');
  return c;
}

inline std::string InstallSnapshot(const std::string& conf, uint64_t data) {
  std::string h = Words({4, 100, 3, 90});
  Put(&h, conf.size());
  h += conf;
  Put(&h, data);
  Put(&h, 0);
  return Message(5, h, std::string(data, 's'));
}

}  // namespace harpc::testing::raft_messages
