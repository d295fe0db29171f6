// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "replication/uv_loop.h"

#include <unistd.h>

#include <chrono>

#include <boost/asio/post.hpp>

#include "util/log.h"

namespace harpc::replication {

namespace asio = boost::asio;

UvLoop::UvLoop(asio::any_io_executor executor) : executor_(std::move(executor)) {}

UvLoop::~UvLoop() { Close(); }

Status UvLoop::Init() {
  if (int rv = uv_loop_init(&loop_); rv != 0) return Internal(std::string("libuv loop: ") + uv_strerror(rv));
  initialized_ = true;
  // A duplicate: Asio closes what it wraps, libuv closes its own.
  const int fd = dup(uv_backend_fd(&loop_));
  if (fd < 0) return Internal("libuv loop: cannot duplicate its descriptor");
  backend_ = std::make_unique<asio::posix::stream_descriptor>(executor_, fd);
  timer_ = std::make_unique<asio::steady_timer>(executor_);
  return Status::Ok();
}

void UvLoop::Start() {
  driving_ = true;
  Kick();
}

void UvLoop::Kick() {
  if (!driving_ || kicked_) return;
  kicked_ = true;
  asio::post(executor_, [this, alive = alive_] {
    if (!*alive) return;
    kicked_ = false;
    Run();
  });
}

void UvLoop::Run() {
  if (!driving_) return;
  uv_run(&loop_, UV_RUN_NOWAIT);
  if (observer_) observer_();
  Arm();
}

void UvLoop::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  driving_ = false;
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (!done()) usleep(1000);
  }
}

void UvLoop::Arm() {
  if (!driving_) return;
  if (!waiting_) {
    waiting_ = true;
    backend_->async_wait(asio::posix::descriptor_base::wait_read,
                         [this, alive = alive_](const boost::system::error_code& ec) {
                           if (!*alive) return;
                           waiting_ = false;
                           if (!ec) Run();
                         });
  }
  const int timeout = uv_backend_timeout(&loop_);
  if (timeout == 0) {
    Kick();
  } else if (timeout > 0) {
    timer_->expires_after(std::chrono::milliseconds(timeout));
    timer_->async_wait([this, alive = alive_](const boost::system::error_code& ec) {
      if (*alive && !ec) Run();
    });
  } else {
    timer_->cancel();
  }
}

void UvLoop::Close() {
  if (!initialized_) return;
  driving_ = false;
  *alive_ = false;
  backend_.reset();
  timer_.reset();
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
  // Bounded: every handle is closing, so a few iterations end them.
  for (int i = 0; i < 1000 && uv_run(&loop_, UV_RUN_NOWAIT) != 0; ++i) {
  }
  if (int rv = uv_loop_close(&loop_); rv != 0) Log().warn("libuv loop not closed cleanly: {}", uv_strerror(rv));
  initialized_ = false;
}

}  // namespace harpc::replication
