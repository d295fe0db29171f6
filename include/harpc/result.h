// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Result: what a method gives back, a JSON value or an error Status.
#pragma once

#include <boost/json/value.hpp>

#include "harpc/status.h"

namespace harpc {

class Result {
 public:
  Result(boost::json::value value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}           // NOLINT: implicit on purpose

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // The JSON answer; null when !ok().
  const boost::json::value& value() const& { return value_; }
  boost::json::value&& value() && { return std::move(value_); }

 private:
  Status status_;
  boost::json::value value_;
};

}  // namespace harpc
