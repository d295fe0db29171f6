// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A private etcd for one test: Debian's etcd-server binary on two free
// loopback ports with a temporary data dir, killed by PID and removed at the
// end; a cluster of three such members (EtcdCluster); plus blocking helpers
// for the JSON gateway (keys in plain text), signed in when auth is on.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "apps/test_pki.h"
#include "harpc/channel.h"
#include "harpc/status.h"
#include "support/test_support.h"
#include "util/subprocess.h"

namespace harpc::etcdtest {

// The etcd binary ("" when it is not installed).
std::string EtcdBinary();

class EtcdServer {
 public:
  EtcdServer() = default;
  ~EtcdServer();  // SIGKILLs etcd and removes its directory
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Starts etcd on free ports with a new data dir and waits for /health.
  Status Start();
  // The same with its client port over HTTPS: this certificate and key, and
  // `ca` to check its /health with. The gateway helpers below then do not
  // work (they speak plain HTTP); harpc's clients with --tls-ca do.
  // With `client_certificates`, etcd also requires a client certificate
  // signed by `ca` (--client-cert-auth); its own certificate serves as one.
  Status StartTls(std::string cert, std::string key, std::string ca, bool client_certificates = false);
  // SIGKILLs etcd (the data dir stays, for Restart).
  void Kill();
  // Starts etcd again on the same ports and data dir and waits for /health.
  Status Restart();
  // Sends `signal` to etcd: SIGSTOP and it accepts connections but answers
  // nothing, SIGCONT and it goes on.
  void Signal(int signal) { process_.Signal(signal); }

  std::string host_port() const { return "127.0.0.1:" + std::to_string(client_port_); }
  bool running() const { return process_.running(); }
  bool Healthy() const;
  // The last lines of etcd's log, for failure messages.
  std::string LogTail() const;

  // POSTs a JSON body to a unary gateway path; the answer body, or nullopt
  // when etcd did not answer 200.
  std::optional<std::string> Post(std::string_view path, const std::string& body) const;
  // The value of `key` (nullopt when absent) and its lease; false when etcd did not answer.
  bool Get(const std::string& key, std::optional<std::string>* value, int64_t* lease = nullptr) const;
  bool Put(const std::string& key, const std::string& value) const;
  bool Delete(const std::string& key) const;
  // Remaining TTL of a lease in seconds (-1 when it is gone) and the TTL it was
  // granted with; nullopt when etcd did not answer.
  std::optional<int64_t> LeaseTtl(int64_t lease, int64_t* granted = nullptr) const;
  bool Revoke(int64_t lease) const;

  // Turns authentication on: user root (role root) with `password`, then
  // /v3/auth/enable; the helpers above sign in as root from then on.
  Status EnableAuth(const std::string& password);

 private:
  friend class EtcdCluster;
  Status MakeDir();
  // Starts the process (Spawn) and waits for /health (WaitHealthy).
  Status Launch();
  Status Spawn();
  Status WaitHealthy();
  Status SignIn() const;  // as root, with root_password_
  std::string name_ = "t";
  std::string initial_cluster_;  // --initial-cluster; empty: this member alone
  std::string root_password_;    // EnableAuth
  mutable std::string token_;    // sent as Authorization once auth is on
  std::string dir_;
  std::string tls_cert_, tls_key_, tls_ca_;  // StartTls
  bool client_certificates_ = false;
  int client_port_ = 0;
  int peer_port_ = 0;
  Subprocess process_;
};

// An etcd over https: a fresh test PKI (apps/test_pki.h) in a temporary dir,
// and etcd presenting pki().cert, signed by pki().ca_cert.
class HttpsEtcd {
 public:
  // With `client_certificates`, etcd also requires a client certificate (see StartTls).
  Status Start(bool client_certificates = false);
  const TestPki& pki() const { return pki_; }
  EtcdServer& etcd() { return etcd_; }

 private:
  testing::TempDir dir_{"harpc-etcd-tls"};
  TestPki pki_;
  EtcdServer etcd_;
};

// Three members (or `size`) on free loopback ports, each with its own data
// dir, started together with --initial-cluster and healthy (a leader elected)
// when Start returns. Every member is killed by PID and its dir removed at the end.
class EtcdCluster {
 public:
  Status Start(size_t size = 3);
  EtcdServer& member(size_t i) { return *members_[i]; }
  size_t size() const { return members_.size(); }
  // "H:P,H:P,H:P": the client addresses in member order.
  std::string Endpoints() const;
  // A member that runs (for the gateway helpers), other than `except`.
  const EtcdServer& Other(size_t except) const;

 private:
  std::vector<std::unique_ptr<EtcdServer>> members_;
};

// Whether `channel` lists `address` among its endpoints now.
bool Knows(const Channel& channel, const std::string& address);
// Calls Echo.echo on `channel` (each call must succeed) until `count`
// endpoints answered or `timeout` passed; the endpoints that answered.
std::set<std::string> AnsweringEndpoints(Channel& channel, size_t count, std::chrono::milliseconds timeout);
// Calls Echo.echo with `params` until a call succeeds or `timeout` passed; the last result.
CallResult CallUntilAnswered(Channel& channel, const boost::json::value& params, std::chrono::milliseconds timeout);

std::string Base64(std::string_view in);
std::string Unbase64(std::string_view in);

}  // namespace harpc::etcdtest
