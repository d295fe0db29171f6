// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/request.h"

#include "http/decimal.h"

namespace harpc::http1 {

void AppendRequestLine(std::string& out, std::string_view method, std::string_view target, std::string_view host,
                       std::string_view target_suffix) {
  out += method;
  out += ' ';
  out += target;
  out += target_suffix;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\n";
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void AppendHeader(std::string& out, std::string_view name, long long value) {
  out += name;
  out += ": ";
  AppendDecimal(out, value);
  out += "\r\n";
}

void AppendBearerToken(std::string& out, std::string_view token) {
  if (token.empty()) return;
  out += "Authorization: Bearer ";
  out += token;
  out += "\r\n";
}

void AppendBody(std::string& out, std::string_view content_type, std::string_view body) {
  if (!content_type.empty() || !body.empty()) {
    if (!content_type.empty()) AppendHeader(out, "Content-Type", content_type);
    AppendHeader(out, "Content-Length", static_cast<long long>(body.size()));
  }
  out += "\r\n";
  out += body;
}

}  // namespace harpc::http1
