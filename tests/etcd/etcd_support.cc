// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "etcd/etcd_support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace harpc::etcdtest {

namespace json = boost::json;
using testing::FreePort;
using testing::PollUntil;
using testing::RawSocket;

namespace {

std::string Request(int port, std::string_view method, std::string_view path, const std::string& body,
                    const std::string& token = "") {
  RawSocket socket(port);
  if (!socket.connected()) return {};
  std::string request = std::string(method) + " " + std::string(path) +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n";
  if (!token.empty()) request += "Authorization: " + token + "\r\n";
  request += "\r\n" + body;
  if (!socket.Send(request)) return {};
  return socket.ReadResponse(std::chrono::seconds(5));
}

int64_t Int(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_string()) return std::strtoll(v->as_string().c_str(), nullptr, 10);
  return 0;
}

}  // namespace

std::string Base64(std::string_view in) {
  std::string out(boost::beast::detail::base64::encoded_size(in.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}

std::string Unbase64(std::string_view in) {
  std::string out(boost::beast::detail::base64::decoded_size(in.size()), '\0');
  out.resize(boost::beast::detail::base64::decode(out.data(), in.data(), in.size()).first);
  return out;
}

std::string EtcdBinary() {
  for (const char* path : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

EtcdServer::~EtcdServer() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void EtcdServer::Kill() {
  if (process_.running()) {
    process_.Signal(SIGKILL);
    process_.Wait(std::chrono::seconds(10));
  }
  process_ = Subprocess();
}

Status EtcdServer::StartTls(std::string cert, std::string key, std::string ca, bool client_certificates) {
  tls_cert_ = std::move(cert);
  tls_key_ = std::move(key);
  tls_ca_ = std::move(ca);
  client_certificates_ = client_certificates;
  return Start();
}

Status EtcdServer::MakeDir() {
  if (EtcdBinary().empty()) {
    return Unavailable("etcd is not installed (run scripts/setup: it installs the etcd-server package)");
  }
  char tmpl[] = "/tmp/harpc-etcd-XXXXXX";
  if (!::mkdtemp(tmpl)) return Internal("mkdtemp failed");
  dir_ = tmpl;
  return Status::Ok();
}

Status EtcdServer::Start() {
  if (Status s = MakeDir(); !s.ok()) return s;
  Status last;
  // Free ports may be taken by someone else between the check and etcd's bind: try a few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    client_port_ = FreePort();
    peer_port_ = FreePort();
    if (client_port_ == 0 || peer_port_ == 0 || client_port_ == peer_port_) continue;
    std::error_code ec;
    std::filesystem::remove_all(dir_ + "/data", ec);
    last = Launch();
    if (last.ok()) return last;
    Kill();
  }
  return last;
}

Status EtcdServer::Restart() {
  Kill();
  return Launch();
}

Status EtcdServer::Launch() {
  if (Status s = Spawn(); !s.ok()) return s;
  return WaitHealthy();
}

Status EtcdServer::Spawn() {
  const std::string client =
      (tls_cert_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(client_port_);
  const std::string tls = tls_cert_.empty() ? "" : " --cert-file " + tls_cert_ + " --key-file " + tls_key_;
  const std::string client_auth = client_certificates_ ? " --client-cert-auth --trusted-ca-file " + tls_ca_ : "";
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  // sh only redirects stdout (the Subprocess pipe is not read) and then becomes etcd.
  const std::string cluster = initial_cluster_.empty() ? name_ + "=" + peer : initial_cluster_;
  const std::string command = "exec " + EtcdBinary() + " --name " + name_ + " --data-dir " + dir_ + "/data" +
                              " --listen-client-urls " + client + " --advertise-client-urls " + client +
                              " --listen-peer-urls " + peer + " --initial-advertise-peer-urls " + peer +
                              " --initial-cluster " + cluster + tls + client_auth + " >/dev/null";
  std::vector<std::string> argv = {"/bin/sh", "-c", command};
  return Subprocess::Spawn(argv, &process_, dir_ + "/etcd.log");
}

Status EtcdServer::WaitHealthy() {
  if (!PollUntil([&] { return !process_.running() || Healthy(); }, std::chrono::seconds(20)) || !process_.running() ||
      process_.Wait(std::chrono::milliseconds(0))) {
    return Unavailable("etcd did not become healthy on " + host_port() + "; its log ends with:\n" + LogTail());
  }
  return Status::Ok();
}

bool EtcdServer::Healthy() const {
  if (!tls_cert_.empty()) {
    testing::CliRun curl =
        testing::RunProgram({"/usr/bin/curl", "-s", "-w", "\\n", "--max-time", "2", "--cacert", tls_ca_, "--cert",
                             tls_cert_, "--key", tls_key_, "https://" + host_port() + "/health"});
    return curl.exit_code == 0 && curl.Stdout().find("true") != std::string::npos;
  }
  std::string response = Request(client_port_, "GET", "/health", "");
  return testing::StatusOf(response) == 200 && testing::BodyOf(response).find("true") != std::string::npos;
}

std::string EtcdServer::LogTail() const {
  std::ifstream in(dir_ + "/etcd.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::optional<std::string> EtcdServer::Post(std::string_view path, const std::string& body) const {
  std::string response = Request(client_port_, "POST", path, body, token_);
  // etcd forgets its tokens when it restarts: sign in again, once.
  if (testing::StatusOf(response) == 401 && !root_password_.empty() && path != "/v3/auth/authenticate" &&
      SignIn().ok()) {
    response = Request(client_port_, "POST", path, body, token_);
  }
  if (testing::StatusOf(response) != 200) return std::nullopt;
  return testing::BodyOf(response);
}

Status EtcdServer::SignIn() const {
  json::object login{{"name", "root"}, {"password", root_password_}};
  std::string response = Request(client_port_, "POST", "/v3/auth/authenticate", json::serialize(login));
  boost::system::error_code ec;
  json::value doc = json::parse(testing::BodyOf(response), ec);
  const json::value* token = !ec && doc.is_object() ? doc.as_object().if_contains("token") : nullptr;
  if (testing::StatusOf(response) != 200 || !token || !token->is_string()) {
    return Unavailable("etcd refused root's password: " + response);
  }
  token_ = std::string(token->as_string());
  return Status::Ok();
}

Status EtcdServer::EnableAuth(const std::string& password) {
  json::object user{{"name", "root"}, {"password", password}};
  json::object role{{"name", "root"}};
  json::object grant{{"user", "root"}, {"role", "root"}};
  for (const auto& [path, body] : {std::pair<const char*, json::object>{"/v3/auth/user/add", user},
                                   {"/v3/auth/role/add", role},
                                   {"/v3/auth/user/grant", grant},
                                   {"/v3/auth/enable", {}}}) {
    if (!Post(path, json::serialize(body))) return Unavailable(std::string("etcd refused ") + path);
  }
  root_password_ = password;
  return SignIn();
}

Status HttpsEtcd::Start(bool client_certificates) {
  if (Status s = MakeTestPki(dir_.path(), &pki_); !s.ok()) return s;
  return etcd_.StartTls(pki_.cert, pki_.key, pki_.ca_cert, client_certificates);
}

Status EtcdCluster::Start(size_t size) {
  Status last;
  // Free ports may be taken by someone else between the check and etcd's bind: try a few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    members_.clear();
    std::string cluster;
    std::set<int> ports;
    auto port = [&ports] {
      for (int tries = 0; tries < 100; ++tries) {
        if (int p = FreePort(); p != 0 && ports.insert(p).second) return p;
      }
      return 0;
    };
    for (size_t i = 0; i < size; ++i) {
      auto member = std::make_unique<EtcdServer>();
      if (Status s = member->MakeDir(); !s.ok()) return s;
      member->name_ = "m" + std::to_string(i);
      member->client_port_ = port();
      member->peer_port_ = port();
      cluster +=
          (cluster.empty() ? "" : ",") + member->name_ + "=http://127.0.0.1:" + std::to_string(member->peer_port_);
      members_.push_back(std::move(member));
    }
    for (auto& member : members_) member->initial_cluster_ = cluster;
    last = Status::Ok();
    // Together: a member alone has no quorum, so none is healthy before the others run.
    for (auto& member : members_) {
      if (last.ok()) last = member->Spawn();
    }
    for (auto& member : members_) {
      if (last.ok()) last = member->WaitHealthy();
    }
    if (last.ok()) return last;
  }
  return last;
}

std::string EtcdCluster::Endpoints() const {
  std::string list;
  for (const auto& member : members_) list += (list.empty() ? "" : ",") + member->host_port();
  return list;
}

const EtcdServer& EtcdCluster::Other(size_t except) const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i != except && members_[i]->running()) return *members_[i];
  }
  return *members_[except];
}

bool EtcdServer::Get(const std::string& key, std::optional<std::string>* value, int64_t* lease) const {
  json::object request;
  request["key"] = Base64(key);
  auto answer = Post("/v3/kv/range", json::serialize(request));
  if (!answer) return false;
  boost::system::error_code ec;
  json::value doc = json::parse(*answer, ec);
  if (ec || !doc.is_object()) return false;
  value->reset();
  if (lease) *lease = 0;
  const json::value* kvs = doc.as_object().if_contains("kvs");
  if (kvs && kvs->is_array() && !kvs->as_array().empty()) {
    const json::object& kv = kvs->as_array()[0].as_object();
    const json::value* v = kv.if_contains("value");
    *value = v && v->is_string() ? Unbase64(v->as_string()) : std::string();
    if (lease) *lease = Int(kv.if_contains("lease"));
  }
  return true;
}

bool EtcdServer::Put(const std::string& key, const std::string& value) const {
  json::object request;
  request["key"] = Base64(key);
  request["value"] = Base64(value);
  return Post("/v3/kv/put", json::serialize(request)).has_value();
}

bool EtcdServer::Delete(const std::string& key) const {
  json::object request;
  request["key"] = Base64(key);
  return Post("/v3/kv/deleterange", json::serialize(request)).has_value();
}

std::optional<int64_t> EtcdServer::LeaseTtl(int64_t lease, int64_t* granted) const {
  json::object request;
  request["ID"] = std::to_string(lease);
  auto answer = Post("/v3/lease/timetolive", json::serialize(request));
  if (!answer) return std::nullopt;
  boost::system::error_code ec;
  json::value doc = json::parse(*answer, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  const json::value* ttl = doc.as_object().if_contains("TTL");
  if (granted) *granted = Int(doc.as_object().if_contains("grantedTTL"));
  return ttl ? Int(ttl) : 0;
}

bool EtcdServer::Revoke(int64_t lease) const {
  json::object request;
  request["ID"] = std::to_string(lease);
  return Post("/v3/lease/revoke", json::serialize(request)).has_value();
}

bool Knows(const Channel& channel, const std::string& address) {
  for (const EndpointInfo& e : channel.Endpoints()) {
    if (e.address == address) return true;
  }
  return false;
}

std::set<std::string> AnsweringEndpoints(Channel& channel, size_t count, std::chrono::milliseconds timeout) {
  std::set<std::string> answered;
  PollUntil(
      [&] {
        CallResult r = channel.Call("Echo.echo", json::parse(R"({"who":"answers"})"));
        EXPECT_TRUE(r.ok()) << r.status;
        if (r.ok()) answered.insert(r.endpoint);
        return answered.size() >= count;
      },
      timeout);
  return answered;
}

CallResult CallUntilAnswered(Channel& channel, const json::value& params, std::chrono::milliseconds timeout) {
  CallResult r;
  PollUntil(
      [&] {
        r = channel.Call("Echo.echo", params);
        return r.ok();
      },
      timeout);
  return r;
}

}  // namespace harpc::etcdtest
