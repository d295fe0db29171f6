// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The trust chapter of `harpc demo`: three echo servers over mutual TLS with
// tokens, certificates made at start. A channel with a client certificate and
// a `client` token drives a load while one server is SIGKILLed (no call
// fails); then the demo shows what each intruder gets: no client
// certificate, no token, a `client` token on a `peer` method, plain HTTP.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "apps/test_pki.h"
#include "cli/demo_support.h"
#include "cli/load_generator.h"
#include "harpc/channel.h"
#include "util/random_id.h"

namespace harpc::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return out.good() && !ec;
}

// One line: what `what` got. `refused` is whether that is what should happen.
bool Show(const char* what, const CallResult& r) {
  const bool refused = !r.ok();
  std::printf("  %-50s -> %s\n", what, refused ? r.status.ToString().c_str() : "answered (should have been refused)");
  return refused;
}

// A raw HTTP request to a TLS port: closed without an answer.
bool PlainHttpRefused(const std::string& address) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  const auto colon = address.rfind(':');
  socket.connect({boost::asio::ip::make_address(address.substr(0, colon)),
                  static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))},
                 ec);
  if (ec) return false;
  const std::string request = "POST /rpc/Echo.echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  char reply[256];
  size_t n = socket.read_some(boost::asio::buffer(reply), ec);  // bounded: the server closes at once
  const bool closed = ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  std::printf("  %-50s -> %s\n", "plain HTTP to the TLS port",
              closed && n == 0 ? "connection closed, nothing answered" : "answered (should have been closed)");
  return closed && n == 0;
}

}  // namespace

int RunTrustChapter() {
  std::printf(
      "\n== Trust: three echo servers over mutual TLS with tokens (certificates made now, for 127.0.0.1).\n"
      "   A channel with a client certificate and a `client` token drives 8 callers for 6 s; one server\n"
      "   is SIGKILLed at 2 s. Then: what callers without the right credentials get.\n\n");
  std::string dir;
  if (!MakeChapterDir("tls", &dir)) return 1;
  TestPki pki;
  if (Status s = MakeTestPki(dir, &pki); !s.ok()) {
    std::printf("  cannot make certificates: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string client_token = RandomId(), peer_token = RandomId();
  const std::string auth_file = dir + "/auth", token_file = dir + "/peer.token";
  if (!WriteFile(auth_file, "client " + client_token + "\npeer " + peer_token + "\n") ||
      !WriteFile(token_file, peer_token + "\n")) {
    std::printf("  cannot write the token files into %s\n", dir.c_str());
    return 1;
  }

  struct Server {
    Subprocess process;
    std::string address;
  };
  std::vector<Server> servers(3);
  std::string target = "list://";
  for (size_t i = 0; i < servers.size(); ++i) {
    Status s =
        StartDaemonProcess({"serve", "--listen", "127.0.0.1:0", "--name", "secure-" + std::to_string(i), "--threads",
                            "1", "--tls-cert", pki.cert, "--tls-key", pki.key, "--tls-ca", pki.ca_cert,
                            "--tls-client-ca", pki.ca_cert, "--auth-file", auth_file, "--token-file", token_file},
                           DemoTrust{}, &servers[i].process, &servers[i].address);
    if (!s.ok()) {
      std::printf("  cannot start a TLS server: %s\n", s.ToString().c_str());
      return 1;
    }
    target += (i ? "," : "") + servers[i].address;
  }
  std::printf("  servers %s (HTTPS only, client certificates of the demo CA required)\n\n", target.c_str());

  ChannelOptions options;
  options.health.interval = milliseconds(200);
  options.idempotent_methods = {"Echo.echo"};
  options.security.tls = {.cert_file = pki.cert, .key_file = pki.key, .ca_file = pki.ca_cert};
  options.security.bearer_token = client_token;
  Channel channel(target, options);

  const auto start = Clock::now();
  LoadReport report;
  std::thread load([&] {
    LoadSpec spec{.method = "Echo.echo",
                  .params = boost::json::parse(R"({"secret":"over TLS"})"),
                  .idempotent = true,
                  .concurrency = 8,
                  .duration = std::chrono::seconds(6)};
    report = RunLoad(channel, spec, nullptr);
  });
  std::this_thread::sleep_until(start + std::chrono::seconds(2));
  servers[1].process.Signal(SIGKILL);
  std::printf("  %4.1fs  >>> %s killed with SIGKILL\n", std::chrono::duration<double>(Clock::now() - start).count(),
              servers[1].address.c_str());
  load.join();
  std::printf("  %4.1fs  calls %llu   failed %llu   p99 %.3f ms (every connection mutual TLS, every call a token)\n\n",
              std::chrono::duration<double>(Clock::now() - start).count(), (unsigned long long)report.requests,
              (unsigned long long)report.errors, report.LatencyMs(0.99));

  const std::string healthy = servers[0].address;
  const boost::json::value params = {{"a", 1}};
  bool refused = true;
  {
    ChannelOptions o = options;
    o.security.tls.cert_file.clear();
    o.security.tls.key_file.clear();
    refused &= Show("no client certificate", Channel(healthy, o).Call("Echo.echo", params));
  }
  {
    ChannelOptions o = options;
    o.security.bearer_token.clear();
    refused &= Show("client certificate, no token", Channel(healthy, o).Call("Echo.echo", params));
  }
  refused &= Show("`client` token calling Fault.set (a peer method)",
                  Channel(healthy, options).Call("Fault.set", boost::json::value{{"fail_rate", 1}}));
  refused &= PlainHttpRefused(healthy);

  for (size_t i = 0; i < servers.size(); ++i) {
    if (i != 1) servers[i].process.Signal(SIGTERM);
  }
  for (Server& s : servers) s.process.Wait(std::chrono::seconds(15));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool ok = report.errors == 0 && report.requests > 0 && refused;
  std::printf("\n%s: %llu failed calls out of %llu over mutual TLS; every intruder refused: %s.\n",
              ok ? "PASS" : "FAIL", (unsigned long long)report.errors, (unsigned long long)report.requests,
              refused ? "yes" : "NO");
  return ok ? 0 : 1;
}

}  // namespace harpc::cli
