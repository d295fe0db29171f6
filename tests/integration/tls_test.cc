// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// TLS on the listener and on the client's connections: the happy path
// (curl, harpc's own client, session resumption), every refusal with its
// reason (wrong CA, expired, wrong address, no client certificate), plain
// HTTP to a TLS port, and certificates reloaded without dropping connections.
#include <csignal>
#include <filesystem>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "apps/test_pki.h"
#include "http/client.h"
#include "http/request.h"
#include "http/tls_context.h"
#include "integration/it_support.h"

namespace harpc::testing::it {
namespace {

namespace asio = boost::asio;

struct TlsCall {
  boost::system::error_code error;  // connect, handshake or exchange
  int status = 0;
  std::string body;
  bool resumed = false;
};

// Connects to `port` with `tls` and sends `requests` echo calls on that one connection.
TlsCall CallOverTls(int port, const TlsOptions& tls, int requests = 1) {
  asio::io_context io;
  auto call = [&]() -> asio::awaitable<TlsCall> {
    TlsCall result;
    http1::ClientConnection connection(co_await asio::this_coro::executor);
    const auto deadline = Clock::now() + 5s;
    result.error = co_await connection.stream.Connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, deadline, tls);
    if (result.error) co_return result;
    result.resumed = connection.stream.resumed();
    for (int i = 0; i < requests; ++i) {
      std::string request;
      http1::AppendRequestLine(request, "POST", "/rpc/Echo.echo", "127.0.0.1");
      http1::AppendBody(request, "application/json", R"({"over":"tls"})");
      http1::ClientResponse response = co_await http1::Exchange(connection, request, deadline);
      result.error = response.error;
      result.status = response.status;
      result.body = response.body;
      if (response.error) break;
    }
    co_return result;
  };
  auto future = asio::co_spawn(io, call(), asio::use_future);
  io.run();
  return future.get();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeTestPki(dir_.path(), &pki_).ok()); }

  ServerOptions TlsServer(bool mutual = false) const {
    ServerOptions o;
    o.tls = {.cert_file = pki_.cert, .key_file = pki_.key, .client_ca_file = mutual ? pki_.ca_cert : ""};
    return o;
  }
  TlsOptions Trusting(const std::string& ca) const { return {.ca_file = ca}; }

  TempDir dir_{"harpc-tls"};
  TestPki pki_;
};

TEST_F(TlsTest, CurlWithTheCaCallsOverHttps) {
  TestServer server(TlsServer());
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/rpc/Echo.echo";
  CliRun ok = RunProgram({"/usr/bin/curl", "-sS", "-w", "\\n", "--cacert", pki_.ca_cert, "-d", R"({"a":1})", url});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.Stdout(), "{\"a\":1}\n");
  // Without the CA, curl refuses the certificate (exit 60).
  CliRun untrusted = RunProgram({"/usr/bin/curl", "-sS", "-d", "{}", url});
  EXPECT_EQ(untrusted.exit_code, 60) << untrusted.err;
}

TEST_F(TlsTest, HarpcClientVerifiesAndResumesSessions) {
  TestServer server(TlsServer());
  TlsCall first = CallOverTls(server.port(), Trusting(pki_.ca_cert), 3);
  ASSERT_FALSE(first.error) << first.error.message();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, R"({"over":"tls"})");
  EXPECT_FALSE(first.resumed);
  // The first connection left a session ticket behind: the next handshake resumes it.
  TlsCall second = CallOverTls(server.port(), Trusting(pki_.ca_cert));
  ASSERT_FALSE(second.error) << second.error.message();
  EXPECT_TRUE(second.resumed);
}

TEST_F(TlsTest, RefusedCertificatesSayWhy) {
  struct Case {
    std::string cert, key, ca, reason;
  } cases[] = {
      {pki_.cert, pki_.key, pki_.other_ca_cert, "unable to get local issuer certificate"},
      {pki_.expired_cert, pki_.expired_key, pki_.ca_cert, "certificate has expired"},
      {pki_.wrong_ip_cert, pki_.wrong_ip_key, pki_.ca_cert, "IP address mismatch"},
  };
  for (const Case& c : cases) {
    ServerOptions o;
    o.tls = {.cert_file = c.cert, .key_file = c.key};
    TestServer server(o);
    TlsCall call = CallOverTls(server.port(), Trusting(c.ca));
    ASSERT_TRUE(call.error) << c.reason;
    EXPECT_EQ(&call.error.category(), &http1::CertificateErrorCategory()) << call.error.message();
    EXPECT_NE(call.error.message().find(c.reason), std::string::npos) << call.error.message();
  }
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutATrustedCertificate) {
  TestServer server(TlsServer(/*mutual=*/true));
  TlsCall with_cert =
      CallOverTls(server.port(), {.cert_file = pki_.cert, .key_file = pki_.key, .ca_file = pki_.ca_cert});
  ASSERT_FALSE(with_cert.error) << with_cert.error.message();
  EXPECT_EQ(with_cert.status, 200);

  // TLS 1.3 lets the client finish its handshake before the server checks
  // its certificate, so the refusal may come with the first answer instead.
  TlsCall without = CallOverTls(server.port(), Trusting(pki_.ca_cert));
  EXPECT_TRUE(without.error);
  EXPECT_NE(without.status, 200);
  TlsCall foreign =
      CallOverTls(server.port(), {.cert_file = pki_.other_cert, .key_file = pki_.other_key, .ca_file = pki_.ca_cert});
  EXPECT_TRUE(foreign.error);
  EXPECT_NE(foreign.status, 200);

  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/health";
  EXPECT_NE(RunProgram({"/usr/bin/curl", "-sS", "--cacert", pki_.ca_cert, url}).exit_code, 0);
  CliRun curl_with_cert =
      RunProgram({"/usr/bin/curl", "-sS", "--cacert", pki_.ca_cert, "--cert", pki_.cert, "--key", pki_.key, url});
  EXPECT_EQ(curl_with_cert.exit_code, 0) << curl_with_cert.err;
}

TEST_F(TlsTest, PlainHttpToATlsPortIsClosedPromptly) {
  ServerOptions o = TlsServer();
  o.header_timeout = 30s;  // the close must come from the failed handshake, not a timeout
  TestServer server(o);
  const auto start = Clock::now();
  RawSocket s(server.port());
  ASSERT_TRUE(s.connected());
  ASSERT_TRUE(s.Send(Post("/rpc/Echo.echo", "{}")));
  EXPECT_TRUE(s.WaitClosed(3s));
  EXPECT_LT(Since(start), 3s);
  EXPECT_TRUE(HoldsFor([&] { return CallOverTls(server.port(), Trusting(pki_.ca_cert)).status == 200; }, 100ms));
}

TEST_F(TlsTest, AClientThatNeverHandshakesIsClosedAfterTheHeaderTimeout) {
  ServerOptions o = TlsServer();
  o.header_timeout = 300ms;
  TestServer server(o);
  RawSocket s(server.port());
  ASSERT_TRUE(s.connected());
  EXPECT_TRUE(s.WaitClosed(5s));
}

TEST_F(TlsTest, StartRefusesBrokenFiles) {
  ServerOptions o;
  o.handle_signals = false;
  o.tls = {.cert_file = pki_.cert, .key_file = pki_.other_key};
  Status mismatch = Server(o).Start("127.0.0.1:0");
  EXPECT_EQ(mismatch.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.message().find("does not belong to certificate"), std::string::npos) << mismatch;

  o.tls = {.cert_file = dir_.File("missing.pem"), .key_file = pki_.key};
  Status missing = Server(o).Start("127.0.0.1:0");
  EXPECT_NE(missing.message().find("missing.pem"), std::string::npos) << missing;

  o.tls = {.client_ca_file = pki_.ca_cert};
  EXPECT_EQ(Server(o).Start("127.0.0.1:0").code(), StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, ReloadServesNewCertificatesAndKeepsOpenConnections) {
  // The server's files are copies, replaced by the unrelated CA's pair below.
  const std::string cert = dir_.File("live-cert.pem"), key = dir_.File("live-key.pem");
  std::filesystem::copy_file(pki_.cert, cert);
  std::filesystem::copy_file(pki_.key, key);
  ServerOptions o;
  o.handle_signals = false;
  o.tls = {.cert_file = cert, .key_file = key};
  Server server(o);
  ASSERT_TRUE(server.AddMethod("Echo.echo", [](const json::value& p, CallContext&) -> Result { return p; }).ok());
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const int port = PortOf(server.address());

  // A connection opened before the reload, used again after it.
  asio::io_context io;
  http1::ClientConnection open(io.get_executor());
  auto exchange = [&](const char* body) -> asio::awaitable<http1::ClientResponse> {
    std::string request;
    http1::AppendRequestLine(request, "POST", "/rpc/Echo.echo", "127.0.0.1");
    http1::AppendBody(request, "application/json", body);
    co_return co_await http1::Exchange(open, request, Clock::now() + 5s);
  };
  auto connect_and_call = [&]() -> asio::awaitable<http1::ClientResponse> {
    const TlsOptions trusting = Trusting(pki_.ca_cert);  // named: see the GCC 12 note in http/stream.h
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    auto ec = co_await open.stream.Connect(endpoint, Clock::now() + 5s, trusting);
    EXPECT_FALSE(ec) << ec.message();
    co_return co_await exchange("1");
  };
  auto before = asio::co_spawn(io, connect_and_call(), asio::use_future);
  io.run();
  ASSERT_EQ(before.get().status, 200);

  std::filesystem::copy_file(pki_.other_cert, cert, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki_.other_key, key, std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server.ReloadCredentials().ok());

  EXPECT_TRUE(CallOverTls(port, Trusting(pki_.other_ca_cert)).status == 200);
  EXPECT_TRUE(CallOverTls(port, Trusting(pki_.ca_cert)).error);
  io.restart();
  auto after = asio::co_spawn(io, exchange("2"), asio::use_future);
  io.run();
  EXPECT_EQ(after.get().status, 200);

  // A reload that fails keeps the files in use.
  std::filesystem::remove(key);
  EXPECT_FALSE(server.ReloadCredentials().ok());
  EXPECT_TRUE(CallOverTls(port, Trusting(pki_.other_ca_cert)).status == 200);
  server.Shutdown();
  server.Wait();
}

TEST_F(TlsTest, DaemonsTakeTheFlagsAndReloadOnSighup) {
  const std::string cert = dir_.File("live-cert.pem"), key = dir_.File("live-key.pem");
  std::filesystem::copy_file(pki_.cert, cert);
  std::filesystem::copy_file(pki_.key, key);
  ServeProcess serve = StartServe({"--tls-cert", cert, "--tls-key", key});
  ASSERT_NE(serve.port, 0);
  const std::string target = "127.0.0.1:" + std::to_string(serve.port);

  CliRun ok = RunHarpc({"call", target, "Echo.echo", R"({"a":1})", "--tls-ca", pki_.ca_cert});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.Stdout(), "{\"a\":1}\n");
  CliRun untrusted = RunHarpc({"call", target, "Echo.echo", "{}", "--tls-ca", pki_.other_ca_cert});
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_NE(untrusted.err.find("unable to get local issuer certificate"), std::string::npos) << untrusted.err;

  std::filesystem::copy_file(pki_.other_cert, cert, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki_.other_key, key, std::filesystem::copy_options::overwrite_existing);
  serve.process.Signal(SIGHUP);
  EXPECT_TRUE(PollUntil([&] { return CallOverTls(serve.port, Trusting(pki_.other_ca_cert)).status == 200; }, 10s));
  EXPECT_TRUE(CallOverTls(serve.port, Trusting(pki_.ca_cert)).error);
}

TEST_F(TlsTest, DaemonsRefuseBrokenTlsFilesWithOneLine) {
  CliRun run = RunHarpc({"serve", "--listen", "127.0.0.1:0", "--tls-cert", pki_.cert, "--tls-key", pki_.other_key});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("does not belong to certificate"), std::string::npos) << run.err;
  CliRun missing = RunHarpc({"call", "127.0.0.1:1", "Echo.echo", "{}", "--tls-ca", dir_.File("nope.pem")});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.pem"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace harpc::testing::it
