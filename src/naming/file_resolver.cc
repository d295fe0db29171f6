// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "naming/file_resolver.h"
#include "util/log.h"

#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "util/address.h"

namespace harpc {

namespace asio = boost::asio;
namespace json = boost::json;

Status FileResolver::Parse(std::string_view text, std::vector<EndpointSpec>* out) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return InvalidArgument("endpoint file is not valid JSON: " + ec.message());
  const json::array* list = doc.if_array();
  if (!list && doc.is_object()) {
    if (const json::value* e = doc.as_object().if_contains("endpoints")) list = e->if_array();
  }
  if (!list) return InvalidArgument("endpoint file must be a JSON array of {\"address\", \"weight\"} objects");
  std::vector<EndpointSpec> specs;
  std::set<std::string> seen;
  for (const json::value& item : *list) {
    const json::object* obj = item.if_object();
    const json::value* address = obj ? obj->if_contains("address") : nullptr;
    if (!address || !address->is_string()) return InvalidArgument("every endpoint needs an \"address\" string");
    EndpointSpec spec{.address = std::string(address->as_string())};
    HostPort hp;
    if (Status s = ParseHostPort(spec.address, &hp); !s.ok()) return s;
    if (const json::value* w = obj->if_contains("weight")) {
      if (!w->is_int64() || w->as_int64() < 1 || w->as_int64() > 1000000) {
        return InvalidArgument("weight of " + spec.address + " must be an integer from 1 to 1000000");
      }
      spec.weight = static_cast<int>(w->as_int64());
    }
    if (!seen.insert(spec.address).second) return InvalidArgument("endpoint " + spec.address + " is listed twice");
    specs.push_back(std::move(spec));
  }
  *out = std::move(specs);
  return Status::Ok();
}

namespace {
asio::awaitable<void> WatchFile(std::string path, Resolver::Listener listener) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::filesystem::file_time_type seen_time{};
  std::uintmax_t seen_size = static_cast<std::uintmax_t>(-1);
  std::string last_error;
  while (!Stopped(co_await asio::this_coro::cancellation_state)) {
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(path, ec);
    auto size = ec ? 0 : std::filesystem::file_size(path, ec);
    if (!ec && (mtime != seen_time || size != seen_size)) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      std::vector<EndpointSpec> specs;
      Status s = FileResolver::Parse(text.str(), &specs);
      if (s.ok()) {
        seen_time = mtime;
        seen_size = size;
        last_error.clear();
        listener(std::move(specs));
      } else if (s.message() != last_error) {
        last_error = s.message();
        Log().warn("{}: {}; keeping the last good endpoints", path, s.message());
      }
    } else if (ec && last_error != ec.message()) {
      last_error = ec.message();
      Log().warn("{}: {}; keeping the last good endpoints", path, ec.message());
    }
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}
}  // namespace

void FileResolver::Start(asio::any_io_executor executor, Listener listener) {
  watch_.Spawn(executor, WatchFile(path_, std::move(listener)));
}

}  // namespace harpc
