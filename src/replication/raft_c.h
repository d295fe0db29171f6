// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Canonical's C Raft and libuv. raft.h has no extern "C" guard of its own.
#pragma once

#include <uv.h>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}
