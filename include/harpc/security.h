// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Who may talk to whom: TLS (server authentication, mutual TLS) and bearer
// tokens with roles. See docs/security.md for the threat model.
//
// A server takes ServerOptions::tls and ServerOptions::auth; every outgoing
// call (channels, health probes, registration, sentinel and transaction
// peers, etcd, webhooks) takes a ClientSecurity, which the daemons fill from
// the same command-line flags (--tls-*, --token-file).
#pragma once

#include <string>
#include <string_view>

namespace harpc {

// Certificates and keys, as PEM files. A server reads them at Start(), a
// client at its first TLS connection (the daemons check them at start), and
// both again on Server::ReloadCredentials() (the daemons: on SIGHUP);
// connections already open keep the certificate they began with.
struct TlsOptions {
  // This process's certificate chain and private key. On a server: what the
  // listener presents (TLS on the listener when set). On a client: the client
  // certificate presented to servers that ask for one. Default empty.
  std::string cert_file;
  std::string key_file;

  // Client side: call every endpoint over TLS and verify its certificate
  // chain against these CAs, and its name (the IP SAN for numeric
  // addresses). Default empty: plaintext HTTP.
  std::string ca_file;

  // Server side: require a client certificate signed by one of these CAs
  // (mutual TLS); a client without one fails the handshake. Default empty:
  // no client certificate asked for.
  std::string client_ca_file;

  bool server_enabled() const { return !cert_file.empty(); }
  bool client_enabled() const { return !ca_file.empty(); }
};

// Roles nest: a token of a role may do everything the roles below it may.
// A method needs the role of its MethodOptions::role (default kClient); GET
// /metrics, /status and pages (the sentinel's dashboard) need kClient; GET
// /health needs none. docs/security.md lists the role of every built-in method.
enum class Role {
  kClient = 1,   // application methods, reads of the registry and status
  kService = 2,  // also registers, heartbeats and deregisters instances
  kPeer = 3,     // also the sentinel, transaction and fault-injection methods
};

// "client", "service", "peer": the spelling of auth files and error messages.
std::string_view RoleName(Role role);

// The bearer tokens a server accepts (ServerOptions::auth).
struct AuthOptions {
  // A file of lines "ROLE TOKEN" (ROLE: client, service or peer; the token is
  // the rest of the line, without surrounding blanks; blank lines and lines
  // starting with # are ignored; a token listed twice is an error). When set,
  // every request except GET /health must carry an accepted token:
  //   none or unknown: HTTP 401, JSON-RPC code -32001 (UNAUTHENTICATED),
  //                    with "WWW-Authenticate: Bearer";
  //   a role below the method's: HTTP 403, code -32003 (PERMISSION_DENIED);
  //   in a JSON-RPC batch each request is judged on its own method.
  // Read by Server::Start() (a malformed line fails it, naming the line) and
  // again by Server::ReloadCredentials() (the daemons: on SIGHUP). Tokens are
  // compared in constant time. Default empty: no token asked for, every
  // caller may call every method.
  std::string auth_file;

  bool enabled() const { return !auth_file.empty(); }
};

// How a process reaches etcd (etcd:// targets, registration in etcd): etcd
// has its own CA and its own users, apart from harpc's. docs/naming.md.
struct EtcdAccess {
  // https to etcd: when tls.ca_file is set, every etcd endpoint is called
  // over TLS and verified against it (chain, and the IP SAN of numeric
  // addresses), presenting tls.cert_file/tls.key_file when they are set.
  // Default empty: the process's own ClientSecurity::tls (so plain HTTP when
  // that has no CA either).
  TlsOptions tls;
  // An etcd user and its password: harpc asks etcd for a token
  // (/v3/auth/authenticate) before its first request, sends it as the
  // Authorization header on every request, and asks again when etcd no longer
  // accepts it (expired, or the member restarted). Default empty: no
  // authentication (etcd with auth disabled).
  std::string user;
  std::string password;
};

// What a process presents on each outgoing call.
struct ClientSecurity {
  // TLS: ca_file switches every endpoint of the channel to TLS; cert_file and
  // key_file give the client certificate for mutual TLS.
  TlsOptions tls;
  // Sent as "Authorization: Bearer <token>" on every request (health probes
  // included). Default empty: no Authorization header.
  std::string bearer_token;
  // etcd only (which never sees the bearer token).
  EtcdAccess etcd;
};

}  // namespace harpc
