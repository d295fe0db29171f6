// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// TraceContext: which trace a call belongs to and which span of it (one
// piece of work: a call a server handles, one attempt a client sends), as
// the W3C Trace Context (level 1) headers carry them between processes:
//
//   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//                ver trace-id (16 bytes)              parent-id (8)   flags
//   tracestate:  vendor=value,other=value   (passed on as it came)
//
// A harpc server gives every call it handles a span of its own, the child of
// the caller's (CallContext::trace()); a harpc client sends each attempt of a
// call as a child span of CallOptions::trace, or of a new trace when none is
// given. A handler continues its trace on the calls it makes by passing
// ctx.trace() as their CallOptions::trace. See docs/observability.md.
//
// Ids come from a per-thread generator seeded by the kernel: unpredictable
// enough to never collide in practice, cheap enough for every call, but not
// secrets (they travel in clear headers and logs).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace harpc {

class TraceContext {
 public:
  using TraceId = std::array<uint8_t, 16>;
  using SpanId = std::array<uint8_t, 8>;

  // Length of a traceparent value this version writes: "00-" 32 "-" 16 "-" 2.
  static constexpr size_t kTraceparentSize = 55;
  // A longer tracestate is dropped (the specification lets a vendor do so).
  static constexpr size_t kMaxTracestateBytes = 512;
  // trace-flags bit: the caller may have recorded its span.
  static constexpr uint8_t kSampled = 0x01;

  // No trace: valid() is false.
  TraceContext() = default;

  // The first span of a new trace: random trace and span ids, no parent, sampled.
  static TraceContext NewTrace();

  // The caller's span, read from a traceparent value: its trace id, its span
  // id (the header's parent-id) and flags; nullopt when the value is invalid:
  // not lowercase hex, an all-zero id, version ff, or version 00 with
  // anything other than exactly 55 characters. A later version is read
  // leniently, as the specification asks: its first four fields as version
  // 00's, whatever follows a '-' after them ignored.
  static std::optional<TraceContext> Parse(std::string_view traceparent);

  // A new span of this trace whose parent is this span: same trace id, flags
  // and tracestate, a new random span id. Of an invalid context: NewTrace().
  TraceContext NewChild() const;
  // Another span with the same parent as this one (a server gives one to
  // each request of a JSON-RPC batch). Of an invalid context: NewTrace().
  TraceContext NewSibling() const;

  // Whether this names a trace (trace and span ids not all zero).
  bool valid() const;
  const TraceId& trace_id() const { return trace_id_; }
  const SpanId& span_id() const { return span_id_; }
  // The span this one is the child of; all zero when it began the trace here
  // (or its parent is not known).
  const SpanId& parent_id() const { return parent_id_; }
  bool has_parent() const;
  uint8_t flags() const { return flags_; }
  bool sampled() const { return (flags_ & kSampled) != 0; }

  // The ids as lowercase hex (32, 16 and 16 digits), for logs.
  std::string trace_id_hex() const;
  std::string span_id_hex() const;
  std::string parent_id_hex() const;

  // The traceparent value naming this span as the parent of the next hop:
  // "00-<trace_id>-<span_id>-<flags>" (version 00 whatever version came in).
  std::string traceparent() const;
  // The same, appended to `out` (no allocation when `out` has room).
  void AppendTraceparent(std::string& out) const;

  // The tracestate that came with the trace, empty when none did.
  const std::string& tracestate() const { return tracestate_; }
  // Keeps `tracestate` to be sent along this trace. False (and none kept)
  // when it is longer than kMaxTracestateBytes or holds characters other
  // than printable ASCII: such a value is dropped rather than sent on.
  bool set_tracestate(std::string_view tracestate);

  friend bool operator==(const TraceContext&, const TraceContext&) = default;

 private:
  TraceId trace_id_{};
  SpanId span_id_{};
  SpanId parent_id_{};
  uint8_t flags_ = 0;
  std::string tracestate_;
};

}  // namespace harpc
