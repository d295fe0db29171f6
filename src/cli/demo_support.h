// What the chapters of `harpc demo` share: starting sibling daemons and
// finding free ports, and the chapters after the first.
#pragma once

#include <string>
#include <vector>

#include "harpc/status.h"
#include "util/subprocess.h"

namespace harpc::cli {

// A loopback port that was free a moment ago (for daemons that must keep
// their address across a restart, or know their peers' before they start).
int FreePort();

// Starts `harpc ARGS...` (a daemon whose first stdout line is "listening on
// H:P") and returns that address; its stderr goes to /dev/null.
Status StartDaemonProcess(std::vector<std::string> args, Subprocess* process, std::string* address);

// Two bank servers and a coordinator under a transfer load; the coordinator
// and a bank are SIGKILLed and restarted mid-run. 0 when the money adds up
// and nothing is left in doubt.
int RunTransactionChapter();

// Three servers over mutual TLS with tokens; one is SIGKILLed under load, then
// callers without a certificate, without a token or with too small a role
// are refused. 0 when no call failed and every intruder was refused.
int RunTrustChapter();

}  // namespace harpc::cli
