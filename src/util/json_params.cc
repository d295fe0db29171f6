// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "util/json_params.h"

#include <boost/json.hpp>

namespace harpc {

namespace json = boost::json;

namespace {
// The member, or null when absent; an error when params is not an object.
Status Member(const json::value& params, const char* name, bool required, const json::value** out) {
  const json::object* o = params.if_object();
  if (!o) return InvalidArgument("params must be a JSON object");
  *out = o->if_contains(name);
  if (!*out && required) return InvalidArgument(std::string("missing \"") + name + "\"");
  return Status::Ok();
}
}  // namespace

Status StringField(const json::value& params, const char* name, bool required, std::string* out) {
  const json::value* v = nullptr;
  if (Status s = Member(params, name, required, &v); !s.ok() || !v) return s;
  if (!v->is_string()) return InvalidArgument(std::string("\"") + name + "\" must be a string");
  *out = std::string(v->as_string());
  return Status::Ok();
}

Status IntField(const json::value& params, const char* name, bool required, int64_t* out) {
  const json::value* v = nullptr;
  if (Status s = Member(params, name, required, &v); !s.ok() || !v) return s;
  if (v->is_int64()) {
    *out = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v->as_uint64());
  } else {
    return InvalidArgument(std::string("\"") + name + "\" must be an integer");
  }
  return Status::Ok();
}

}  // namespace harpc
