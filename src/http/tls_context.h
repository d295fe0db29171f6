// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// TLS contexts: what a listener presents and checks, what a client trusts and
// presents. Built from PEM files (harpc::TlsOptions), and reloadable: Reload
// reads the files again, new connections then use them, and connections
// already open keep the context they began with (each holds it).
//
// Policy, the same everywhere: TLS 1.2 at least (1.3 preferred, OpenSSL's
// default ciphers), no compression, no renegotiation. A server requires a
// client certificate when client_ca_file is set. A client verifies the
// server's chain against ca_file and its name: the IP SAN for the numeric
// addresses harpc connects to. Clients resume sessions per endpoint (TLS 1.3
// tickets), so reconnecting costs no full handshake.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "harpc/security.h"
#include "harpc/status.h"

using SSL = struct ssl_st;
using SSL_SESSION = struct ssl_session_st;

namespace harpc::http1 {

class TlsContext {
 public:
  enum class Side { kServer, kClient };

  // Loads `options` for one side: a server needs cert_file and key_file (and
  // uses client_ca_file), a client needs ca_file (and presents cert_file and
  // key_file when both are set). INVALID_ARGUMENT names the file and what is
  // wrong with it.
  static Status Load(Side side, const TlsOptions& options, std::shared_ptr<TlsContext>* out);

  // The client context of this process for `options`: loaded on first use,
  // then shared by every connection with the same files (one session cache),
  // and reloaded by ReloadClients.
  static Status ForClient(const TlsOptions& options, std::shared_ptr<TlsContext>* out);
  // Reloads every context ForClient handed out; the first error of one that
  // a connection holds, if any (those that fail keep their previous files).
  static Status ReloadClients();

  // The context new connections use.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Reads the files again; on error the current context stays.
  Status Reload();

  // Client side: prepares `ssl` to connect to `address`: the name to verify
  // (its IP SAN) and the session to resume, cached under `session_key` (the
  // endpoint; it must outlive `ssl`).
  void PrepareClient(SSL* ssl, const boost::asio::ip::address& address, const std::string& session_key);

  const TlsOptions& options() const { return options_; }

  ~TlsContext();

 private:
  TlsContext(Side side, TlsOptions options) : side_(side), options_(std::move(options)) {}
  Status Build(std::shared_ptr<boost::asio::ssl::context>* out) const;
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);

  const Side side_;
  const TlsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  // endpoint -> the last session it gave us; bounded, cleared when full.
  std::unordered_map<std::string, SSL_SESSION*> sessions_;
};

// The error a failed handshake reports when the peer's certificate was the
// reason: its value is OpenSSL's verify result (X509_V_ERR_*) and its message
// says why in words ("certificate has expired", "IP address mismatch", ...).
const boost::system::error_category& CertificateErrorCategory();

// For a handshake that failed on `ssl`: the certificate's reason when there is
// one, else `ec`.
boost::system::error_code ExplainHandshakeError(SSL* ssl, boost::system::error_code ec);

}  // namespace harpc::http1
