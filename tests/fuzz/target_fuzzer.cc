// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Target strings and what names endpoints: a channel's target (list://,
// bare H:P lists, file://, sentinel://, etcd://, through MakeResolver as a
// channel makes its resolver), the contents of a file:// target's file, and
// a sentinel's Registry.watch answer as the sentinel resolver reads it.
// Resolvers are made, never started: nothing is dialled.
#include <boost/json.hpp>

#include "fuzz_support.h"
#include "naming/file_resolver.h"
#include "naming/resolver.h"
#include "naming/sentinel_resolver.h"

using namespace harpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  const std::string_view input = fuzz::Bytes(data, size);

  std::unique_ptr<Resolver> resolver;
  (void)MakeResolver(input, ClientSecurity{}, &resolver);

  std::vector<EndpointSpec> endpoints;
  (void)FileResolver::Parse(input, &endpoints);

  boost::system::error_code ec;
  boost::json::value answer = boost::json::parse(input, ec);
  if (!ec && answer.is_object()) (void)SentinelResolver::CallableEndpoints(answer.as_object());
  return 0;
}
