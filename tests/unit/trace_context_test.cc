// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// W3C Trace Context (level 1) traceparent parsing and formatting, span ids,
// tracestate, and the access log's line format.
#include "harpc/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "server/access_log.h"
#include "support/test_support.h"

namespace harpc {
namespace {

namespace json = boost::json;

// The specification's own example.
constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kParentId = "00f067aa0ba902b7";
const std::string kValid = "00-" + std::string(kTraceId) + "-" + std::string(kParentId) + "-01";

TEST(TraceContext, ParsesTheSpecificationsExample) {
  std::optional<TraceContext> t = TraceContext::Parse(kValid);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->valid());
  EXPECT_EQ(t->trace_id_hex(), kTraceId);
  EXPECT_EQ(t->span_id_hex(), kParentId);  // the caller's span
  EXPECT_FALSE(t->has_parent());
  EXPECT_TRUE(t->sampled());
  EXPECT_EQ(t->traceparent(), kValid);  // and writes it back as it came
}

TEST(TraceContext, KeepsTheUnsampledFlagAndDropsUndefinedOnes) {
  std::optional<TraceContext> t =
      TraceContext::Parse("00-" + std::string(kTraceId) + "-" + std::string(kParentId) + "-00");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->sampled());
  // Level 1 defines bit 0 only; the others go on as zero.
  t = TraceContext::Parse("00-" + std::string(kTraceId) + "-" + std::string(kParentId) + "-ff");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->flags(), TraceContext::kSampled);
  EXPECT_EQ(t->traceparent().substr(53), "01");
}

TEST(TraceContext, RefusesInvalidValues) {
  const std::string id = std::string(kTraceId), parent = std::string(kParentId);
  const std::string invalid[] = {
      "",
      "garbage",
      std::string(4096, 'x'),
      "00-" + id + "-" + parent,           // no flags
      "00-" + id + "-" + parent + "-01-",  // version 00 is exactly 55 characters
      "00-" + id + "-" + parent + "-01-extra",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + parent + "-01",  // uppercase trace id
      "00-" + id + "-00F067AA0BA902B7-01",                      // uppercase parent id
      "0A-" + id + "-" + parent + "-01",                        // uppercase version
      "00-" + id + "-" + parent + "-0A",                        // uppercase flags
      "00-00000000000000000000000000000000-" + parent + "-01",  // all-zero trace id
      "00-" + id + "-0000000000000000-01",                      // all-zero parent id
      "ff-" + id + "-" + parent + "-01",                        // version ff is invalid forever
      "00_" + id + "-" + parent + "-01",                        // wrong separators
      "00-" + id + "_" + parent + "-01",
      "00-" + id + "-" + parent + "_01",
      "00-" + id.substr(0, 31) + "g-" + parent + "-01",  // not hex
      " 00-" + id + "-" + parent + "-01",
      "00-" + id + "-" + parent + "-01\r\nX-Injected: 1",
      "01-" + id + "-" + parent + "-01x",  // a later version's extra field must follow a '-'
      "02-" + id + "-" + parent,           // ... and it still needs version 00's four fields
  };
  for (const std::string& v : invalid) EXPECT_FALSE(TraceContext::Parse(v)) << "accepted '" << v << "'";
}

TEST(TraceContext, ReadsLaterVersionsLeniently) {
  const std::string tail = std::string(kTraceId) + "-" + std::string(kParentId) + "-01";
  for (const std::string& v : {"01-" + tail, "01-" + tail + "-what-comes-next", "cc-" + tail + "-x"}) {
    std::optional<TraceContext> t = TraceContext::Parse(v);
    ASSERT_TRUE(t) << v;
    EXPECT_EQ(t->trace_id_hex(), kTraceId);
    EXPECT_EQ(t->span_id_hex(), kParentId);
    EXPECT_EQ(t->traceparent(), kValid) << "sent on as version 00";
  }
}

TEST(TraceContext, DefaultIsInvalidAndNewTracesAreValidAndDistinct) {
  EXPECT_FALSE(TraceContext().valid());
  std::set<std::string> traces, spans;
  for (int i = 0; i < 10000; ++i) {
    TraceContext t = TraceContext::NewTrace();
    ASSERT_TRUE(t.valid());
    EXPECT_FALSE(t.has_parent());
    EXPECT_TRUE(t.sampled());
    ASSERT_TRUE(traces.insert(t.trace_id_hex()).second);
    ASSERT_TRUE(spans.insert(t.span_id_hex()).second);
    // What it writes, it reads back.
    ASSERT_EQ(TraceContext::Parse(t.traceparent()), t) << t.traceparent();
  }
}

TEST(TraceContext, ChildrenAndSiblings) {
  TraceContext caller = *TraceContext::Parse(kValid);
  ASSERT_TRUE(caller.set_tracestate("congo=t61rcWkgMzE"));
  TraceContext child = caller.NewChild();
  EXPECT_EQ(child.trace_id(), caller.trace_id());
  EXPECT_EQ(child.parent_id(), caller.span_id());
  EXPECT_NE(child.span_id(), caller.span_id());
  EXPECT_EQ(child.tracestate(), "congo=t61rcWkgMzE");
  EXPECT_EQ(child.flags(), caller.flags());
  TraceContext sibling = child.NewSibling();
  EXPECT_EQ(sibling.trace_id(), child.trace_id());
  EXPECT_EQ(sibling.parent_id(), child.parent_id());
  EXPECT_NE(sibling.span_id(), child.span_id());
  // Of no trace: a new one.
  EXPECT_TRUE(TraceContext().NewChild().valid());
  EXPECT_FALSE(TraceContext().NewChild().has_parent());
}

TEST(TraceContext, TracestateMustBePrintableAndBounded) {
  TraceContext t = TraceContext::NewTrace();
  EXPECT_TRUE(t.set_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_EQ(t.tracestate(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_FALSE(t.set_tracestate("a=1\r\nX-Injected: yes"));
  EXPECT_EQ(t.tracestate(), "");
  EXPECT_TRUE(t.set_tracestate(std::string(TraceContext::kMaxTracestateBytes, 'a')));
  EXPECT_FALSE(t.set_tracestate(std::string(TraceContext::kMaxTracestateBytes + 1, 'a')));
  EXPECT_EQ(t.tracestate(), "");
}

TEST(TraceContext, AppendsWithoutDisturbingWhatIsThere) {
  TraceContext t = *TraceContext::Parse(kValid);
  std::string out = "traceparent: ";
  t.AppendTraceparent(out);
  EXPECT_EQ(out, "traceparent: " + kValid);
}

// ---- the access log ----

json::object ParseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n') << line;
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  EXPECT_FALSE(ec) << "not JSON: " << line;
  EXPECT_TRUE(v.is_object()) << line;
  return v.is_object() ? v.as_object() : json::object{};
}

TEST(AccessLog, FormatsEveryField) {
  TraceContext t = TraceContext::Parse(kValid)->NewChild();
  std::string line;
  // 2026-12-02T07:42:14.123Z
  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796197334123LL));
  AccessLog::Format({.method = "Echo.echo",
                     .code = StatusCode::kUnavailable,
                     .http_status = 503,
                     .latency = std::chrono::microseconds(1234),
                     .peer = "127.0.0.1:50312",
                     .trace = &t},
                    at, line);
  json::object o = ParseLine(line);
  EXPECT_EQ(o.at("time"), "2026-12-02T07:42:14.123Z");
  EXPECT_EQ(o.at("method"), "Echo.echo");
  EXPECT_EQ(o.at("status"), "UNAVAILABLE");
  EXPECT_EQ(o.at("http_status"), 503);
  EXPECT_DOUBLE_EQ(o.at("latency_ms").to_number<double>(), 1.234);
  EXPECT_EQ(o.at("peer"), "127.0.0.1:50312");
  EXPECT_EQ(o.at("trace_id"), json::value(json::string(kTraceId)));
  EXPECT_EQ(o.at("span_id"), json::value(json::string(t.span_id_hex())));
  EXPECT_EQ(o.at("parent_id"), json::value(json::string(kParentId)));
  EXPECT_EQ(o.size(), 9u) << line;
}

TEST(AccessLog, UnknownFieldsAreNullAndHostileMethodsStayValidJson) {
  std::string line;
  AccessLog::Format({.code = StatusCode::kInvalidArgument, .http_status = 431, .peer = "127.0.0.1:1"},
                    std::chrono::system_clock::now(), line);
  json::object o = ParseLine(line);
  EXPECT_TRUE(o.at("method").is_null());
  EXPECT_TRUE(o.at("trace_id").is_null());
  EXPECT_TRUE(o.at("span_id").is_null());
  EXPECT_TRUE(o.at("parent_id").is_null());

  const TraceContext root = TraceContext::NewTrace();
  const std::string hostile = "a\"b\\c\n\x01\xff\xc3\xa9}";
  line.clear();
  AccessLog::Format({.method = hostile, .peer = "p", .trace = &root}, std::chrono::system_clock::now(), line);
  o = ParseLine(line);
  EXPECT_EQ(o.at("method"), "a\"b\\c\n\x01\u00ff\u00c3\u00a9}");
  EXPECT_TRUE(o.at("parent_id").is_null()) << "a root span has no parent";
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "one line whatever the method";
}

TEST(AccessLog, WritesEveryLineToTheFileBeforeClosing) {
  testing::TempDir dir;
  const std::string path = dir.File("access.log");
  {
    std::unique_ptr<AccessLog> log;
    ASSERT_TRUE(AccessLog::Open(path, &log).ok());
    TraceContext t = TraceContext::NewTrace();
    for (int i = 0; i < 5000; ++i) log->Write({.method = "M", .peer = "127.0.0.1:2", .trace = &t});
    EXPECT_EQ(log->dropped(), 0u);
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ParseLine(line + "\n");
    ++lines;
  }
  EXPECT_EQ(lines, 5000);
}

TEST(AccessLog, RefusesAFileItCannotOpen) {
  testing::TempDir dir;
  std::unique_ptr<AccessLog> log;
  Status s = AccessLog::Open(dir.File("no/such/dir/access.log"), &log);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no/such/dir/access.log"), std::string::npos) << s;
  EXPECT_FALSE(AccessLog::Open("", &log).ok());
}

}  // namespace
}  // namespace harpc
