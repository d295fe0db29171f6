// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// What the chapters of `harpc demo` share: starting sibling daemons and
// finding free ports, and the chapters after the first.
#pragma once

#include <string>
#include <vector>

#include "harpc/security.h"
#include "harpc/status.h"
#include "util/subprocess.h"

namespace harpc::cli {

// The demo's trust flags (cli/security_flags.h): what its own channels
// present, and the flags every daemon it starts is given (so that one peer
// token in --token-file and --auth-file runs the whole cluster with tokens).
struct DemoTrust {
  ClientSecurity security;
  std::vector<std::string> daemon_args;
};

// A loopback port below the ephemeral range, free a moment ago (for daemons that must keep
// their address across a restart, or know their peers' before they start).
int FreePort();

// A fresh directory /tmp/harpc-demo-NAME-XXXXXX for a chapter's files; false
// (and a line on stdout) when none can be made.
bool MakeChapterDir(const char* name, std::string* dir);

// Starts `harpc ARGS... TRUST-FLAGS...` (a daemon whose first stdout line is
// "listening on H:P") and returns that address; its stderr goes to /dev/null.
Status StartDaemonProcess(std::vector<std::string> args, const DemoTrust& trust, Subprocess* process,
                          std::string* address);

// A coordinator group and two bank groups of three under a transfer load;
// leaders are SIGKILLed and frozen, dead members restarted. 0 when the money
// adds up, nothing is left in doubt and no transfer was aborted because of a
// failure.
int RunTransactionChapter(const DemoTrust& trust);

// Three servers over mutual TLS with tokens; one is SIGKILLed under load, then
// callers without a certificate, without a token or with too small a role
// are refused. 0 when no call failed and every intruder was refused.
int RunTrustChapter();

}  // namespace harpc::cli
