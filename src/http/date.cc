// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/date.h"

#include <time.h>  // gmtime_r (POSIX)

#include <cstdio>

namespace harpc::http1 {

std::string_view FormatHttpDate(std::time_t t, char (&out)[32]) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  int n = std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                        kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return {out, static_cast<size_t>(n)};
}

std::string_view HttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local char text[32];
  thread_local std::string_view formatted;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != cached_second) {
    cached_second = now.tv_sec;
    formatted = FormatHttpDate(now.tv_sec, text);
  }
  return formatted;
}

}  // namespace harpc::http1
