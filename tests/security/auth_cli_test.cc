// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// Tokens end to end through the CLI: `harpc serve --auth-file` with `harpc
// call --token-file`; a sentinel group whose peers hold peer tokens, a server
// that registers with a service token and clients with client tokens; a
// transfer between two banks through a coordinator, all with tokens. And the
// trust flags refused with a clear one-line error (exit 2).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "apps/test_pki.h"
#include "harpc/channel.h"
#include "support/test_support.h"

namespace harpc {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class AuthCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.File("auth")) << "client tok-client\nservice tok-service\npeer tok-peer\n";
    for (const char* role : {"client", "service", "peer"}) {
      std::ofstream(dir_.File(std::string(role) + ".token")) << "tok-" << role << "\n";
    }
  }
  std::string Auth() const { return dir_.File("auth"); }
  std::string Token(const std::string& role) const { return dir_.File(role + ".token"); }

  // A daemon with --auth-file and the token of `role`.
  std::string StartWithTokens(std::vector<std::string> args, const std::string& role, Subprocess* p) {
    args.insert(args.end(), {"--auth-file", Auth(), "--token-file", Token(role)});
    std::string why;
    std::string address = testing::StartDaemon(args, p, 10s, "/dev/null", &why);
    EXPECT_FALSE(address.empty()) << why;
    return address;
  }

  testing::TempDir dir_{"harpc-auth-cli"};
};

// stderr holds exactly one line.
void ExpectOneLine(const std::string& err) {
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST_F(AuthCli, CallWithATokenWorksWithoutOneFailsClearly) {
  Subprocess server;
  const std::string address = StartWithTokens({"serve", "--listen", "127.0.0.1:0", "--threads", "1"}, "peer", &server);
  ASSERT_FALSE(address.empty());

  testing::CliRun ok = testing::RunHarpc({"call", address, "Echo.echo", R"({"a":1})", "--token-file", Token("client")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.Stdout(), "{\"a\":1}\n");

  testing::CliRun none = testing::RunHarpc({"call", address, "Echo.echo", R"({"a":1})"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(none.Stdout(), "");
  EXPECT_THAT(none.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(none.err, HasSubstr("--token-file"));
  ExpectOneLine(none.err);

  std::ofstream(dir_.File("wrong.token")) << "tok-nobody\n";
  testing::CliRun wrong = testing::RunHarpc({"call", address, "/", "{}", "--token-file", dir_.File("wrong.token")});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.err, HasSubstr("UNAUTHENTICATED"));
  ExpectOneLine(wrong.err);

  testing::CliRun denied =
      testing::RunHarpc({"call", address, "Fault.set", R"({"fail_rate":1})", "--token-file", Token("client")});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(denied.err, HasSubstr("peer"));
  ExpectOneLine(denied.err);

  // bench sends the token too: every call answered.
  testing::CliRun bench =
      testing::RunHarpc({"bench", address, "--requests", "50", "--json", "--token-file", Token("client")});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  ASSERT_FALSE(bench.out.empty());
  boost::json::value report = boost::json::parse(bench.out.back());
  EXPECT_EQ(report.at("ok"), 50) << bench.Stdout();
  EXPECT_EQ(report.at("errors"), 0) << bench.Stdout();
}

// A loopback listener that answers every request "200 SERVING" and keeps
// their heads: who sends which Authorization header.
class RecordingServer {
 public:
  RecordingServer() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RecordingServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      timeval tv{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        heads_.push_back(head);
      }
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
          "Connection: close\r\n\r\nSERVING\n";
      [[maybe_unused]] ssize_t sent = ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
};

bool AnyHeadHas(RecordingServer& server, const std::string& text) {
  for (const std::string& head : server.heads()) {
    if (head.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(AuthProbes, ChannelHealthProbesCarryTheTokenSentinelInstanceProbesDoNot) {
  // A channel's heartbeats carry its token (ChannelOptions::security).
  RecordingServer endpoint;
  {
    ChannelOptions o;
    o.security.bearer_token = "tok-probe";
    o.health.interval = std::chrono::milliseconds(50);
    Channel channel(endpoint.address(), o);
    ASSERT_TRUE(channel.status().ok()) << channel.status();
    ASSERT_TRUE(testing::PollUntil([&] { return AnyHeadHas(endpoint, "GET /health"); }, 10s));
    EXPECT_TRUE(AnyHeadHas(endpoint, "Authorization: Bearer tok-probe\r\n"));
  }

  // A sentinel probes a registered instance with no token: the address came
  // from whoever registered it, and the sentinel's token is a peer token.
  testing::TempDir dir("harpc-auth-probes");
  std::ofstream(dir.File("auth")) << "service tok-service\npeer tok-peer\n";
  std::ofstream(dir.File("peer.token")) << "tok-peer\n";
  std::ofstream(dir.File("service.token")) << "tok-service\n";
  Subprocess sentinel;
  const std::string address =
      testing::StartDaemon({"sentinel", "--listen", "127.0.0.1:0", "--data-dir", dir.File("s"), "--probe-interval-ms",
                            "50", "--auth-file", dir.File("auth"), "--token-file", dir.File("peer.token")},
                           &sentinel);
  ASSERT_FALSE(address.empty());
  RecordingServer instance;
  testing::CliRun registered = testing::RunHarpc({"call", address, "Registry.register",
                                                  "{\"service\":\"probe\",\"address\":\"" + instance.address() + "\"}",
                                                  "--token-file", dir.File("service.token")});
  ASSERT_EQ(registered.exit_code, 0) << registered.err;
  ASSERT_TRUE(testing::PollUntil([&] { return instance.heads().size() >= 3; }, 10s));
  EXPECT_TRUE(AnyHeadHas(instance, "GET /health"));
  EXPECT_FALSE(AnyHeadHas(instance, "Authorization"));
}

TEST_F(AuthCli, SighupRereadsTheAuthFile) {
  Subprocess server;
  const std::string log = dir_.File("serve.log");
  const std::string address = testing::StartDaemon(
      {"serve", "--listen", "127.0.0.1:0", "--threads", "1", "--auth-file", Auth()}, &server, 10s, log);
  ASSERT_FALSE(address.empty());
  auto logged = [&](const std::string& text) {
    std::ifstream in(log);
    std::stringstream all;
    all << in.rdbuf();
    return all.str().find(text) != std::string::npos;
  };
  std::ofstream(dir_.File("new.token")) << "tok-new\n";
  auto call_with = [&](const std::string& token_file) {
    return testing::RunHarpc({"call", address, "Echo.echo", "{}", "--token-file", token_file}).exit_code == 0;
  };
  EXPECT_TRUE(call_with(Token("client")));
  EXPECT_FALSE(call_with(dir_.File("new.token")));

  std::ofstream(Auth()) << "client tok-new\n";
  server.Signal(SIGHUP);
  EXPECT_TRUE(testing::PollUntil([&] { return call_with(dir_.File("new.token")); }, 10s));
  EXPECT_FALSE(call_with(Token("client")));  // no longer listed

  // A file that does not parse is refused; the server keeps the tokens it had and keeps serving.
  std::ofstream(Auth()) << "client tok-newer\nroot tok-root\n";
  server.Signal(SIGHUP);
  EXPECT_TRUE(testing::PollUntil([&] { return logged("credentials not reloaded"); }, 10s));
  EXPECT_TRUE(logged("line 2"));
  EXPECT_TRUE(call_with(dir_.File("new.token")));
  EXPECT_TRUE(server.running());
}

TEST_F(AuthCli, TrustFlagsAreCheckedBeforeAnythingStarts) {
  std::ofstream(dir_.File("cert.pem")) << "not checked here\n";
  std::ofstream(dir_.File("empty.token")) << "\n";
  struct Case {
    std::vector<std::string> args;
    std::string mention;
  } cases[] = {
      {{"serve", "--listen", "127.0.0.1:0", "--tls-cert", dir_.File("cert.pem")}, "--tls-cert needs --tls-key"},
      {{"sentinel", "--listen", "127.0.0.1:0", "--data-dir", dir_.File("s"), "--tls-key", dir_.File("cert.pem")},
       "--tls-key needs --tls-cert"},
      {{"coordinator", "--listen", "127.0.0.1:0", "--data-dir", dir_.File("c"), "--tls-client-ca",
        dir_.File("cert.pem")},
       "--tls-client-ca needs --tls-cert"},
      {{"call", "127.0.0.1:1", "/", "--tls-ca", dir_.File("missing.pem")}, "--tls-ca: no such file"},
      {{"status", "sentinel://127.0.0.1:1", "--token-file", dir_.File("missing.token")}, "--token-file: no such file"},
      {{"transfer", "--coordinator", "127.0.0.1:1", "--from", "127.0.0.1:1", "--from-account", "a", "--to",
        "127.0.0.1:1", "--to-account", "b", "--amount", "1", "--token-file", dir_.File("empty.token")},
       "holds no token"},
      {{"bench", "127.0.0.1:1", "--requests", "1", "--auth-file", Auth()}, "--auth-file"},  // daemons only
  };
  for (const Case& c : cases) {
    testing::CliRun r = testing::RunHarpc(c.args);
    SCOPED_TRACE(c.args[0] + ": " + r.err);
    ASSERT_TRUE(r.exit_code.has_value());
    EXPECT_NE(*r.exit_code, 0);
    if (c.mention != "--auth-file") {
      EXPECT_EQ(*r.exit_code, 2);
    }
    EXPECT_THAT(r.err, HasSubstr(c.mention));
    EXPECT_EQ(r.Stdout(), "");
  }

  // A malformed auth file stops the daemon at start, naming the line.
  std::ofstream(dir_.File("bad-auth")) << "client ok\nadmin tok\n";
  testing::CliRun bad = testing::RunHarpc({"serve", "--listen", "127.0.0.1:0", "--auth-file", dir_.File("bad-auth")});
  ASSERT_TRUE(bad.exit_code.has_value());
  EXPECT_NE(*bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("line 2"));
  EXPECT_THAT(bad.err, HasSubstr("unknown role 'admin'"));
  EXPECT_EQ(bad.Stdout(), "");
}

// {"services":{...}} of `harpc status --json` through a client token; null on failure.
boost::json::value StatusJson(const std::string& group, const std::string& token_file,
                              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"status", "sentinel://" + group, "--json", "--token-file", token_file};
  args.insert(args.end(), extra.begin(), extra.end());
  testing::CliRun r = testing::RunHarpc(args);
  if (r.exit_code != 0 || r.out.empty()) return nullptr;
  return boost::json::parse(r.out.back());
}

// The state of `address` under `service`, or "" when not listed.
std::string StateOf(const boost::json::value& status, const std::string& service, const std::string& address) {
  if (!status.is_object()) return "";
  const auto* list = status.at("services").as_object().if_contains(service);
  if (!list) return "";
  for (const auto& i : list->as_array()) {
    if (i.at("address").as_string() == address) return std::string(i.at("state").as_string());
  }
  return "";
}

TEST_F(AuthCli, SentinelGroupRegistrationAndCallsWithTokens) {
  const std::string s1 = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string s2 = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string group = s1 + "," + s2;
  Subprocess sentinels[2];
  for (int i = 0; i < 2; ++i) {
    const std::string& self = i == 0 ? s1 : s2;
    const std::string& peer = i == 0 ? s2 : s1;
    ASSERT_FALSE(StartWithTokens({"sentinel", "--listen", self, "--data-dir", dir_.File("s" + std::to_string(i)),
                                  "--peers", peer, "--down-after-ms", "500", "--probe-interval-ms", "100"},
                                 "peer", &sentinels[i])
                     .empty());
  }
  // A server whose token may not register: it serves, but no sentinel lists it.
  Subprocess intruder;
  const std::string intruder_address = StartWithTokens({"serve", "--listen", "127.0.0.1:0", "--threads", "1",
                                                        "--register", "sentinel://" + group, "--lease-ttl-ms", "1000"},
                                                       "client", &intruder);
  Subprocess server;
  const std::string address = StartWithTokens({"serve", "--listen", "127.0.0.1:0", "--threads", "1", "--register",
                                               "sentinel://" + group, "--lease-ttl-ms", "30000"},  // outlives the odown
                                              "service", &server);
  ASSERT_FALSE(address.empty());

  // Registered with both sentinels (the service token), read back with a client token.
  boost::json::value status;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        status = StatusJson(group, Token("client"));
        return StateOf(status, "echo", address) == "up";
      },
      10s))
      << status;
  // The intruder started first and renews every 333 ms: had the sentinels
  // taken its registration, it would be listed by now.
  EXPECT_EQ(StateOf(status, "echo", intruder_address), "") << status;
  // Without a token, status is refused.
  testing::CliRun anonymous = testing::RunHarpc({"status", "sentinel://" + group});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));

  // A client resolves the service through the sentinels (Registry.watch with its token) and calls it.
  testing::CliRun call = testing::RunHarpc(
      {"call", "sentinel://" + group + "/echo", "Echo.echo", R"({"via":"sentinel"})", "--token-file", Token("client")});
  EXPECT_EQ(call.exit_code, 0) << call.err;
  EXPECT_EQ(call.Stdout(), "{\"via\":\"sentinel\"}\n");

  // The peers agree on a verdict through the peer protocol (peer tokens): ODOWN.
  server.Signal(SIGKILL);
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        status = StatusJson(group, Token("client"));
        return StateOf(status, "echo", address) == "odown";
      },
      10s))
      << status;
}

// The same group over mutual TLS as well: every listener HTTPS only with
// client certificates required, every outgoing call (registration, the
// sentinels' probes and peer protocol, status) over TLS.
TEST_F(AuthCli, SentinelQuorumOverMutualTls) {
  TestPki pki;
  ASSERT_TRUE(MakeTestPki(dir_.File("pki"), &pki).ok());
  const std::vector<std::string> tls = {"--tls-cert", pki.cert, "--tls-key", pki.key, "--tls-ca", pki.ca_cert};
  auto with = [](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const std::vector<std::string> daemon_tls = with(tls, {"--tls-client-ca", pki.ca_cert});
  const std::string s1 = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string s2 = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string s3 = "127.0.0.1:" + std::to_string(testing::FreePort());
  const std::string group = s1 + "," + s2 + "," + s3;
  Subprocess sentinels[3];
  const std::string addresses[3] = {s1, s2, s3};
  for (int i = 0; i < 3; ++i) {
    std::string peers;
    for (int j = 0; j < 3; ++j) {
      if (j != i) peers += (peers.empty() ? "" : ",") + addresses[j];
    }
    ASSERT_FALSE(StartWithTokens(
                     with({"sentinel", "--listen", addresses[i], "--data-dir", dir_.File("tls-s" + std::to_string(i)),
                           "--peers", peers, "--quorum", "2", "--down-after-ms", "500", "--probe-interval-ms", "100"},
                          daemon_tls),
                     "peer", &sentinels[i])
                     .empty());
  }
  Subprocess server;
  const std::string address =
      StartWithTokens(with({"serve", "--listen", "127.0.0.1:0", "--threads", "1", "--register", "sentinel://" + group,
                            "--lease-ttl-ms", "30000"},  // outlives the test: the odown is not hidden by an expiry
                           daemon_tls),
                      "service", &server);
  ASSERT_FALSE(address.empty());

  boost::json::value status;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        status = StatusJson(group, Token("client"), tls);
        return StateOf(status, "echo", address) == "up";
      },
      10s))
      << status;
  // Without a client certificate, nothing is answered.
  testing::CliRun no_cert =
      testing::RunHarpc({"status", "sentinel://" + group, "--token-file", Token("client"), "--tls-ca", pki.ca_cert});
  EXPECT_NE(no_cert.exit_code, 0);
  testing::CliRun call = testing::RunHarpc(
      with({"call", "sentinel://" + group + "/echo", "Echo.echo", R"({"via":"tls"})", "--token-file", Token("client")},
           tls));
  EXPECT_EQ(call.exit_code, 0) << call.err;
  EXPECT_EQ(call.Stdout(), "{\"via\":\"tls\"}\n");

  // The quorum agrees over TLS: probes, opinions, votes and the decision.
  server.Signal(SIGKILL);
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        status = StatusJson(group, Token("client"), tls);
        return StateOf(status, "echo", address) == "odown";
      },
      10s))
      << status;
}

TEST_F(AuthCli, TransferWithTokens) {
  const std::string coordinator_address = "127.0.0.1:" + std::to_string(testing::FreePort());
  Subprocess coordinator, bank_a, bank_b;
  ASSERT_FALSE(StartWithTokens({"coordinator", "--listen", coordinator_address, "--data-dir", dir_.File("c")}, "peer",
                               &coordinator)
                   .empty());
  const std::string a = StartWithTokens({"serve", "--service", "bank", "--listen", "127.0.0.1:0", "--threads", "1",
                                         "--db", dir_.File("a.db"), "--coordinator", coordinator_address},
                                        "peer", &bank_a);
  const std::string b = StartWithTokens({"serve", "--service", "bank", "--listen", "127.0.0.1:0", "--threads", "1",
                                         "--db", dir_.File("b.db"), "--coordinator", coordinator_address},
                                        "peer", &bank_b);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // Opening accounts is an operator's (peer) job; a client may not.
  testing::CliRun refused = testing::RunHarpc(
      {"call", a, "Bank.open", R"({"account":"x","balance":1000000})", "--token-file", Token("client")});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("PERMISSION_DENIED"));
  for (const auto& [bank, account] : {std::pair{a, "alice"}, std::pair{b, "bob"}}) {
    testing::CliRun open =
        testing::RunHarpc({"call", bank, "Bank.open", "{\"account\":\"" + std::string(account) + "\",\"balance\":100}",
                           "--token-file", Token("peer")});
    ASSERT_EQ(open.exit_code, 0) << open.err;
  }

  const std::vector<std::string> transfer = {
      "transfer",     "--coordinator", coordinator_address, "--from", a, "--from-account", "alice", "--to", b,
      "--to-account", "bob",           "--amount",          "30"};
  testing::CliRun anonymous = testing::RunHarpc(transfer);
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.exit_code, 3);  // not begun, so not aborted either
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));

  std::vector<std::string> with_token = transfer;
  with_token.insert(with_token.end(), {"--token-file", Token("client")});
  testing::CliRun done = testing::RunHarpc(with_token);
  ASSERT_EQ(done.exit_code, 0) << done.err << done.Stdout();
  EXPECT_THAT(done.Stdout(), HasSubstr("\"outcome\":\"committed\""));

  // Phase two reached both banks with the coordinator's peer token: the money moved.
  auto balance = [&](const std::string& bank, const std::string& account) -> int64_t {
    testing::CliRun r = testing::RunHarpc(
        {"call", bank, "Bank.balance", "{\"account\":\"" + account + "\"}", "--token-file", Token("client")});
    if (r.exit_code != 0 || r.out.empty()) return -1;
    boost::json::value v = boost::json::parse(r.out.back());
    return v.at("balance").to_number<int64_t>();
  };
  EXPECT_TRUE(testing::PollUntil([&] { return balance(a, "alice") == 70 && balance(b, "bob") == 130; }, 10s))
      << "alice " << balance(a, "alice") << ", bob " << balance(b, "bob");
}

}  // namespace
}  // namespace harpc
