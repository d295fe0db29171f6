// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Decoding etcd's JSON gateway (etcd_gateway.h). The registrar and resolver
// of etcd.h send these requests; what the gateway sends back:
//
//   POST /v3/lease/grant {"TTL":3}
//     -> {"header":{...,"revision":"7"},"ID":"7587869","TTL":"3"}
//   POST /v3/kv/put {"key":B64,"value":B64,"lease":"7587869"} -> {"header":{...}}
//   POST /v3/lease/keepalive {"ID":"7587869"}  (a gRPC stream: one result, chunked)
//     -> {"result":{"header":{...},"ID":"7587869","TTL":"3"}}
//        TTL is missing (0) when the lease is gone
//   POST /v3/lease/revoke {"ID":"7587869"} -> {"header":{...}}
//        or {"error":"etcdserver: requested lease not found","code":5,...}
//   POST /v3/kv/range {"key":B64,"range_end":B64}
//     -> {"header":{...,"revision":"9"},"kvs":[{"key":B64,"value":B64,...}],"count":"1"}
//        (kvs and count missing when nothing matches)
//   POST /v3/watch {"create_request":{"key":B64,"range_end":B64,"start_revision":"10"}}
//     -> a chunked stream of newline-separated JSON messages:
//        {"result":{"header":{...},"created":true}}
//        {"result":{"header":{...},"events":[{"kv":{...}},{"type":"DELETE","kv":{"key":B64}}]}}
//        {"result":{...,"canceled":true,"compact_revision":"5"}}  (start_revision compacted)
//
// Integers of 64 bits travel as JSON strings (protobuf's JSON mapping); fields
// equal to their default (0, false, PUT) are left out.
#include "naming/etcd_gateway.h"

#include <charconv>

#include <boost/json.hpp>

#include "util/address.h"
#include "util/log.h"

namespace harpc {

namespace json = boost::json;

namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// An int64 field: a JSON string (protobuf mapping) or number; 0 when missing.
int64_t JsonInt(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (const json::string* s = v->if_string()) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec == std::errc() && ptr == s->data() + s->size()) return n;
  }
  return 0;
}

const json::value* Field(const json::value& v, std::string_view name) {
  const json::object* o = v.if_object();
  return o ? o->if_contains(name) : nullptr;
}

bool JsonTrue(const json::value* v) { return v && v->is_bool() && v->as_bool(); }

// The Status an error answer of the gateway stands for: unary calls answer
// {"error":"...","code":N,"message":"..."}, streams {"error":{"grpc_code":N,"message":"..."}}.
Status GatewayError(const json::value& body, std::string_view what) {
  const json::value* error = Field(body, "error");
  if (!error) return Status::Ok();
  std::string message;
  int64_t code = JsonInt(Field(body, "code"));
  if (const json::string* s = error->if_string()) {
    message = std::string(*s);
  } else if (error->is_object()) {
    if (const json::value* m = Field(*error, "message"); m && m->is_string()) message = std::string(m->as_string());
    code = JsonInt(Field(*error, "grpc_code"));
    if (code == 0) code = JsonInt(Field(*error, "code"));
  }
  if (message.empty()) message = json::serialize(*error);
  // etcd's codes are gRPC's, and so are harpc's.
  const StatusCode sc = code >= 1 && code <= 16 ? static_cast<StatusCode>(code) : StatusCode::kUnavailable;
  return Status(sc, std::string(what) + ": " + message);
}

// The endpoint a key/value of the service stands for; false (with `why`) when unusable.
bool DecodeMember(std::string_view prefix, std::string_view key, std::string_view value, EndpointSpec* out,
                  std::string* why) {
  if (!key.starts_with(prefix) || key.size() == prefix.size()) {
    *why = "key outside the service";
    return false;
  }
  EndpointSpec spec{.address = std::string(key.substr(prefix.size()))};
  boost::system::error_code ec;
  json::value doc = json::parse(value, ec);
  if (!ec && doc.is_object()) {
    if (const json::value* a = Field(doc, "address"); a && a->is_string() && !a->as_string().empty()) {
      spec.address = std::string(a->as_string());
    }
    if (const json::value* w = Field(doc, "weight")) {
      int64_t weight = JsonInt(w);
      if (weight >= 1 && weight <= 1000000) spec.weight = static_cast<int>(weight);
    }
  }
  HostPort hp;
  if (Status s = ParseHostPort(spec.address, &hp); !s.ok()) {
    *why = s.message();
    return false;
  }
  *out = std::move(spec);
  return true;
}

// Applies one key/value (a range item or a put event) to `members`.
void ApplyPut(std::string_view prefix, const json::value& kv, EtcdMembers* members) {
  std::string key, value, why;
  const json::value* k = Field(kv, "key");
  if (!k || !k->is_string() || !Base64Decode(k->as_string(), &key)) return;
  const json::value* v = Field(kv, "value");
  if (v && v->is_string() && !Base64Decode(v->as_string(), &value)) value.clear();
  EndpointSpec spec;
  if (DecodeMember(prefix, key, value, &spec, &why)) {
    (*members)[key] = std::move(spec);
  } else {
    Log().warn("etcd: ignoring {}: {}", key, why);
    members->erase(key);
  }
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

int64_t EtcdInt(const json::value& object, std::string_view name) { return JsonInt(Field(object, name)); }

Status ParseEtcdAnswer(int http_status, std::string_view body, const std::string& what, json::value* out) {
  boost::system::error_code jec;
  json::value answer = json::parse(body, jec);
  if (jec || !answer.is_object()) {
    if (http_status != 200) return Unavailable(what + ": HTTP " + std::to_string(http_status));
    return Unavailable(what + ": answer is not JSON: " + (jec ? jec.message() : "not an object"));
  }
  if (Status s = GatewayError(answer, what); !s.ok()) return s;
  if (http_status != 200) return Unavailable(what + ": HTTP " + std::to_string(http_status));
  if (const json::value* result = Field(answer, "result"); result && result->is_object()) {
    if (Status s = GatewayError(*result, what); !s.ok()) return s;
    *out = *result;
  } else {
    *out = std::move(answer);
  }
  return Status::Ok();
}

Status ParseEtcdRange(const json::value& answer, std::string_view prefix, const std::string& what, EtcdMembers* members,
                      int64_t* revision) {
  EtcdMembers found;
  if (const json::value* kvs = Field(answer, "kvs"); kvs && kvs->is_array()) {
    for (const json::value& kv : kvs->as_array()) ApplyPut(prefix, kv, &found);
  }
  const json::value* header = Field(answer, "header");
  *revision = header ? JsonInt(Field(*header, "revision")) : 0;
  if (*revision <= 0) return Unavailable(what + ": answer has no revision");
  *members = std::move(found);
  return Status::Ok();
}

Status ApplyEtcdWatchMessage(std::string_view text, std::string_view prefix, const std::string& what,
                             EtcdMembers* members, EtcdWatchUpdate* update) {
  *update = {};
  boost::system::error_code ec;
  json::value message = json::parse(text, ec);
  if (ec || !message.is_object()) return Unavailable(what + ": message is not JSON");
  if (Status s = GatewayError(message, what); !s.ok()) return s;
  const json::value* result = Field(message, "result");
  if (!result) result = &message;
  update->created = JsonTrue(Field(*result, "created"));
  if (JsonTrue(Field(*result, "canceled"))) {
    std::string why = "etcd canceled the watch";
    if (int64_t compacted = JsonInt(Field(*result, "compact_revision")); compacted > 0) {
      why += " (history compacted up to revision " + std::to_string(compacted) + ")";
    }
    if (const json::value* reason = Field(*result, "cancel_reason"); reason && reason->is_string()) {
      why += ": " + std::string(reason->as_string());
    }
    return Unavailable(what + ": " + why);
  }
  const json::value* events = Field(*result, "events");
  if (!events || !events->is_array() || events->as_array().empty()) return Status::Ok();
  for (const json::value& event : events->as_array()) {
    const json::value* kv = Field(event, "kv");
    if (!kv) continue;
    const json::value* type = Field(event, "type");
    if (type && type->is_string() && type->as_string() == "DELETE") {
      std::string key;
      const json::value* k = Field(*kv, "key");
      if (k && k->is_string() && Base64Decode(k->as_string(), &key)) members->erase(key);
    } else {
      ApplyPut(prefix, *kv, members);
    }
  }
  update->events = true;
  if (const json::value* header = Field(*result, "header")) update->revision = JsonInt(Field(*header, "revision"));
  return Status::Ok();
}

Status ConsumeEtcdWatchLines(std::string& text, bool ended, const std::function<Status(std::string_view)>& each) {
  size_t start = 0;
  Status status;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos;) {
    std::string_view line(text.data() + start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (status = each(line); !status.ok()) break;
  }
  text.erase(0, start);
  if (status.ok() && ended) {
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) status = each(text);
    text.clear();
  }
  return status;
}

}  // namespace harpc
