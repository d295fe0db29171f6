// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A throwaway certificate authority for demos and tests: a CA, a certificate
// for 127.0.0.1 that every daemon presents (as server and as client), and the
// broken ones the tests need. Keys are P-256; nothing here is for production,
// where certificates come from the operator's own CA.
#pragma once

#include <string>

#include "harpc/status.h"

namespace harpc {

struct TestPki {
  std::string dir;
  std::string ca_cert;                      // the CA every good certificate chains to
  std::string cert, key;                    // CN harpc, IP SAN 127.0.0.1, valid for a day
  std::string other_ca_cert;                // an unrelated CA
  std::string other_cert, other_key;        // signed by the unrelated CA, IP SAN 127.0.0.1
  std::string expired_cert, expired_key;    // signed by the CA, expired yesterday
  std::string wrong_ip_cert, wrong_ip_key;  // signed by the CA, IP SAN 127.0.0.2 only
};

// Writes the files into `dir` (created if missing).
Status MakeTestPki(const std::string& dir, TestPki* out);

}  // namespace harpc
