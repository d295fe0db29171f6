// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A client's HTTP/1.1 request, formatted into one string that goes out in one
// write: the request line and Host, the caller's headers, then the body with
// its Content-Type and Content-Length.
//
//   AppendRequestLine(out, "POST", "/v3/kv/range", "127.0.0.1:2379");
//   AppendHeader(out, "Connection", "close");
//   AppendBody(out, "application/json", body);
#pragma once

#include <string>
#include <string_view>

namespace harpc::http1 {

// "METHOD <target><target_suffix> HTTP/1.1" and "Host: host" (the target may
// come in two pieces so that callers need not concatenate it first).
void AppendRequestLine(std::string& out, std::string_view method, std::string_view target, std::string_view host,
                       std::string_view target_suffix = {});
void AppendHeader(std::string& out, std::string_view name, std::string_view value);
void AppendHeader(std::string& out, std::string_view name, long long value);
// "Authorization: Bearer TOKEN" when `token` is not empty (ClientSecurity::
// bearer_token: every call and health probe of a process carries it).
void AppendBearerToken(std::string& out, std::string_view token);
// Ends the head; the body follows. Without a content type: no body headers
// (a GET), unless the body is not empty.
void AppendBody(std::string& out, std::string_view content_type, std::string_view body);

}  // namespace harpc::http1
