// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A loopback port for a daemon that must know its address before it starts
// (members of a group name each other), chosen below the kernel's ephemeral
// range: a port from that range (bind to 0) can be taken, before the daemon
// binds it, by any outgoing connection of the same machine — such as the
// group's first members dialling each other.
#pragma once

namespace harpc {

// Free on 127.0.0.1 a moment ago; 0 when none was found.
int FreeListenPort();

}  // namespace harpc
