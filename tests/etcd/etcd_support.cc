#include "etcd/etcd_support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "support/test_support.h"

namespace harpc::etcdtest {

namespace json = boost::json;
using testing::FreePort;
using testing::PollUntil;
using testing::RawSocket;

namespace {

std::string Request(int port, std::string_view method, std::string_view path, const std::string& body) {
  RawSocket socket(port);
  if (!socket.connected()) return {};
  std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                        std::to_string(port) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
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

Status EtcdServer::StartTls(std::string cert, std::string key, std::string ca) {
  tls_cert_ = std::move(cert);
  tls_key_ = std::move(key);
  tls_ca_ = std::move(ca);
  return Start();
}

Status EtcdServer::Start() {
  if (EtcdBinary().empty()) {
    return Unavailable("etcd is not installed (run scripts/setup: it installs the etcd-server package)");
  }
  char tmpl[] = "/tmp/harpc-etcd-XXXXXX";
  if (!::mkdtemp(tmpl)) return Internal("mkdtemp failed");
  dir_ = tmpl;
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
  const std::string client = (tls_cert_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
                             std::to_string(client_port_);
  const std::string tls =
      tls_cert_.empty() ? "" : " --cert-file " + tls_cert_ + " --key-file " + tls_key_;
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  // sh only redirects stdout (the Subprocess pipe is not read) and then becomes etcd.
  const std::string command = "exec " + EtcdBinary() + " --name t --data-dir " + dir_ + "/data" +
                              " --listen-client-urls " + client + " --advertise-client-urls " + client +
                              " --listen-peer-urls " + peer + " --initial-advertise-peer-urls " + peer +
                              " --initial-cluster t=" + peer + tls + " >/dev/null";
  std::vector<std::string> argv = {"/bin/sh", "-c", command};
  if (Status s = Subprocess::Spawn(argv, &process_, dir_ + "/etcd.log"); !s.ok()) return s;
  if (!PollUntil([&] { return !process_.running() || Healthy(); }, std::chrono::seconds(20)) ||
      !process_.running() || process_.Wait(std::chrono::milliseconds(0))) {
    return Unavailable("etcd did not become healthy on " + client + "; its log ends with:\n" + LogTail());
  }
  return Status::Ok();
}

bool EtcdServer::Healthy() const {
  if (!tls_cert_.empty()) {
    testing::CliRun curl = testing::RunProgram(
        {"/usr/bin/curl", "-s", "-w", "\\n", "--max-time", "2", "--cacert", tls_ca_, "https://" + host_port() + "/health"});
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
  std::string response = Request(client_port_, "POST", path, body);
  if (testing::StatusOf(response) != 200) return std::nullopt;
  return testing::BodyOf(response);
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

}  // namespace harpc::etcdtest
