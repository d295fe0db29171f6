// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "harpc/trace.h"

#include <algorithm>
#include <cstring>

#include "util/hex.h"
#include "util/random_id.h"

namespace harpc {

namespace {

// Field offsets in "vv-<32>-<16>-ff".
constexpr size_t kTraceIdAt = 3, kParentIdAt = 36, kFlagsAt = 53;

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& id) {
  return std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>& id) {
  // Never all zero (an invalid id): a zero draw, once in 2^64, draws again.
  do {
    for (size_t i = 0; i < N; i += 8) {
      const uint64_t r = FastRandom64();
      std::memcpy(id.data() + i, &r, std::min<size_t>(8, N - i));
    }
  } while (AllZero(id));
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& id) {
  std::string out(2 * N, '0');
  WriteHex(id.data(), N, out.data());
  return out;
}

}  // namespace

TraceContext TraceContext::NewTrace() {
  TraceContext t;
  FillRandom(t.trace_id_);
  FillRandom(t.span_id_);
  t.flags_ = kSampled;
  return t;
}

std::optional<TraceContext> TraceContext::Parse(std::string_view v) {
  if (v.size() < kTraceparentSize) return std::nullopt;
  uint8_t version = 0;
  if (!ReadLowerHex(v.substr(0, 2), &version, 1) || version == 0xff) return std::nullopt;
  // Version 00 is exactly 55 characters; a later one may add fields after a '-'.
  if (version == 0 ? v.size() != kTraceparentSize : v.size() > kTraceparentSize && v[kTraceparentSize] != '-') {
    return std::nullopt;
  }
  if (v[2] != '-' || v[kParentIdAt - 1] != '-' || v[kFlagsAt - 1] != '-') return std::nullopt;
  TraceContext t;
  uint8_t flags = 0;
  if (!ReadLowerHex(v.substr(kTraceIdAt, 32), t.trace_id_.data(), t.trace_id_.size()) ||
      !ReadLowerHex(v.substr(kParentIdAt, 16), t.span_id_.data(), t.span_id_.size()) ||
      !ReadLowerHex(v.substr(kFlagsAt, 2), &flags, 1) || AllZero(t.trace_id_) || AllZero(t.span_id_)) {
    return std::nullopt;
  }
  // Level 1 defines the sampled bit only; the others are sent on as zero.
  t.flags_ = flags & kSampled;
  return t;
}

TraceContext TraceContext::NewChild() const {
  if (!valid()) return NewTrace();
  TraceContext child = *this;
  child.parent_id_ = span_id_;
  FillRandom(child.span_id_);
  return child;
}

TraceContext TraceContext::NewSibling() const {
  if (!valid()) return NewTrace();
  TraceContext sibling = *this;
  FillRandom(sibling.span_id_);
  return sibling;
}

bool TraceContext::valid() const { return !AllZero(trace_id_) && !AllZero(span_id_); }
bool TraceContext::has_parent() const { return !AllZero(parent_id_); }

std::string TraceContext::trace_id_hex() const { return Hex(trace_id_); }
std::string TraceContext::span_id_hex() const { return Hex(span_id_); }
std::string TraceContext::parent_id_hex() const { return Hex(parent_id_); }

void TraceContext::AppendTraceparent(std::string& out) const {
  const size_t at = out.size();
  out.resize(at + kTraceparentSize);
  char* p = out.data() + at;
  std::memcpy(p, "00-", 3);  // NOLINT(bugprone-not-null-terminated-result): a prefix, the rest follows
  WriteHex(trace_id_.data(), trace_id_.size(), p + kTraceIdAt);
  p[kParentIdAt - 1] = '-';
  WriteHex(span_id_.data(), span_id_.size(), p + kParentIdAt);
  p[kFlagsAt - 1] = '-';
  WriteHex(&flags_, 1, p + kFlagsAt);
}

std::string TraceContext::traceparent() const {
  std::string out;
  AppendTraceparent(out);
  return out;
}

bool TraceContext::set_tracestate(std::string_view tracestate) {
  // What may go into a header line unchanged: no control characters, so no
  // line break that would start a header of its own.
  const bool printable =
      std::all_of(tracestate.begin(), tracestate.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
  if (tracestate.size() > kMaxTracestateBytes || !printable) {
    tracestate_.clear();
    return false;
  }
  tracestate_.assign(tracestate);
  return true;
}

}  // namespace harpc
