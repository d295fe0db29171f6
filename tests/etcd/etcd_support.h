// A private etcd for one test: Debian's etcd-server binary on two free
// loopback ports with a temporary data dir, killed by PID and removed at the
// end; plus blocking helpers for its JSON gateway (keys in plain text).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harpc/status.h"
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
  Status StartTls(std::string cert, std::string key, std::string ca);
  // SIGKILLs etcd (the data dir stays, for Restart).
  void Kill();
  // Starts etcd again on the same ports and data dir and waits for /health.
  Status Restart();
  // Sends `signal` to etcd: SIGSTOP and it accepts connections but answers
  // nothing, SIGCONT and it goes on.
  void Signal(int signal) { process_.Signal(signal); }

  std::string host_port() const { return "127.0.0.1:" + std::to_string(client_port_); }
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

 private:
  Status Launch();
  std::string dir_;
  std::string tls_cert_, tls_key_, tls_ca_;  // StartTls
  int client_port_ = 0;
  int peer_port_ = 0;
  Subprocess process_;
};

std::string Base64(std::string_view in);
std::string Unbase64(std::string_view in);

}  // namespace harpc::etcdtest
