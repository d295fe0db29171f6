// Who may talk to whom: TLS (server authentication, mutual TLS) and bearer
// tokens with roles. See docs/security.md for the threat model.
//
// A server takes ServerOptions::tls and ServerOptions::auth; every outgoing
// call (channels, health probes, registration, sentinel and transaction
// peers, etcd, webhooks) takes a ClientSecurity, which the daemons fill from
// the same command-line flags (--tls-*, --token-file).
#pragma once

#include <string>

namespace harpc {

// Certificates and keys, as PEM files. They are read when the server or the
// channel starts and again on Server::ReloadTls() (the daemons: on SIGHUP);
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
enum class Role {
  kClient = 1,   // application methods, reads of the registry and status
  kService = 2,  // also registers, heartbeats and deregisters instances
  kPeer = 3,     // also the sentinel, transaction and fault-injection methods
};

// What a process presents on each outgoing call.
struct ClientSecurity {
  // TLS: ca_file switches every endpoint of the channel to TLS; cert_file and
  // key_file give the client certificate for mutual TLS.
  TlsOptions tls;
  // Sent as "Authorization: Bearer <token>" on every request (health probes
  // included). Default empty: no Authorization header.
  std::string bearer_token;
};

}  // namespace harpc
