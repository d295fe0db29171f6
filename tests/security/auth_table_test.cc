// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The exact 401/403 table of DESIGN §7 / docs/security.md, on real daemons
// started with --auth-file: every method of every built-in service (serve's
// echo and bank services, the sentinel, the coordinator) called with no
// token, a wrong token and each role, on POST /rpc/<Method> and as JSON-RPC.
// A role below the method's gets 403 / -32003; none or a wrong token gets
// 401 / -32001; an allowed role passes authorization (the call may then fail
// for its own reasons: the params here are empty). Each daemon's /status
// lists its methods, and every one of them must be in the table, so a method
// added without a decided role fails this test.
#include <fstream>
#include <map>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harpc/security.h"
#include "support/test_support.h"

namespace harpc {
namespace {

using ::testing::HasSubstr;
using testing::RawSocket;

const std::map<Role, std::string> kTokens = {
    {Role::kClient, "tok-client-1f3a"}, {Role::kService, "tok-service-77b0"}, {Role::kPeer, "tok-peer-c2d9"}};
const std::string kWrongToken = "tok-peer-c2d8";

struct Answer {
  int status = 0;
  std::string head;
  boost::json::value body;  // null when not JSON
};

Answer Http(int port, std::string_view verb, std::string_view path, std::string_view body, const std::string& token) {
  RawSocket socket(port);
  EXPECT_TRUE(socket.connected());
  std::string request = std::string(verb) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  if (verb == "POST") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  EXPECT_TRUE(socket.Send(request));
  const std::string raw = socket.ReadResponse(std::chrono::seconds(10));
  Answer a;
  a.status = testing::StatusOf(raw);
  a.head = raw.substr(0, raw.find("\r\n\r\n"));
  boost::system::error_code ec;
  a.body = boost::json::parse(testing::BodyOf(raw), ec);
  if (ec) a.body = nullptr;
  return a;
}

// The JSON-RPC code of an error answer (plain or 2.0 envelope), or 0.
int64_t ErrorCode(const boost::json::value& body) {
  if (!body.is_object()) return 0;
  const boost::json::value* e = body.as_object().if_contains("error");
  if (!e || !e->is_object()) return 0;
  const boost::json::value* code = e->as_object().if_contains("code");
  return code && code->is_int64() ? code->as_int64() : 0;
}

struct Daemon {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, Role> methods;  // every method it serves and the role it needs
  Subprocess process;
  std::string address;
};

class AuthTable : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_file_ = dir_.File("auth");
    std::ofstream auth(auth_file_);
    auth << "# the roles of DESIGN §7\n";
    for (const auto& [role, token] : kTokens) auth << RoleName(role) << " " << token << "\n";
    auth.close();
    std::ofstream(dir_.File("peer.token")) << kTokens.at(Role::kPeer) << "\n";
  }

  void Start(Daemon& d) {
    std::vector<std::string> args = d.args;
    args.insert(args.end(), {"--auth-file", auth_file_, "--token-file", dir_.File("peer.token")});
    std::string why;
    d.address = testing::StartDaemon(args, &d.process, std::chrono::seconds(10), "/dev/null", &why);
    ASSERT_FALSE(d.address.empty()) << d.name << ": " << why;
  }

  // Every method the daemon lists in /status has a row in the table.
  void ExpectTableComplete(const Daemon& d) {
    Answer status = Http(testing::PortOf(d.address), "GET", "/status", "", kTokens.at(Role::kClient));
    ASSERT_EQ(status.status, 200) << d.name;
    size_t listed = 0;
    for (const auto& m : status.body.at("methods").as_array()) {
      const std::string name(m.at("name").as_string());
      EXPECT_TRUE(d.methods.contains(name)) << d.name << " serves " << name << ", which the role table does not list";
      ++listed;
    }
    EXPECT_EQ(listed, d.methods.size()) << d.name << ": the table lists methods the daemon does not serve";
  }

  void ExpectTable(const Daemon& d) {
    const int port = testing::PortOf(d.address);
    for (const auto& [method, needed] : d.methods) {
      SCOPED_TRACE(d.name + " " + method + " (needs " + std::string(RoleName(needed)) + ")");
      const std::string path = "/rpc/" + method;
      const std::string rpc = boost::json::serialize(
          boost::json::object{{"jsonrpc", "2.0"}, {"method", method}, {"params", boost::json::object{}}, {"id", 7}});

      for (const std::string& token : {std::string(), kWrongToken}) {
        SCOPED_TRACE(token.empty() ? "no token" : "wrong token");
        Answer plain = Http(port, "POST", path, "{}", token);
        EXPECT_EQ(plain.status, 401);
        EXPECT_EQ(ErrorCode(plain.body), -32001);
        EXPECT_THAT(plain.head, HasSubstr("WWW-Authenticate: Bearer"));
        Answer jsonrpc = Http(port, "POST", "/rpc", rpc, token);
        EXPECT_EQ(jsonrpc.status, 401);
        EXPECT_EQ(ErrorCode(jsonrpc.body), -32001);
        EXPECT_EQ(jsonrpc.body.at("jsonrpc"), "2.0");
        EXPECT_THAT(jsonrpc.head, HasSubstr("WWW-Authenticate: Bearer"));
      }
      for (const auto& [role, token] : kTokens) {
        SCOPED_TRACE("role " + std::string(RoleName(role)));
        Answer plain = Http(port, "POST", path, "{}", token);
        Answer jsonrpc = Http(port, "POST", "/rpc", rpc, token);
        if (role < needed) {
          EXPECT_EQ(plain.status, 403);
          EXPECT_EQ(ErrorCode(plain.body), -32003);
          EXPECT_EQ(jsonrpc.status, 403);
          EXPECT_EQ(ErrorCode(jsonrpc.body), -32003);
          EXPECT_EQ(jsonrpc.body.at("id"), 7);
        } else {
          EXPECT_NE(plain.status, 0);  // answered
          EXPECT_NE(plain.status, 401);
          EXPECT_NE(plain.status, 403);
          EXPECT_NE(ErrorCode(plain.body), -32001);
          EXPECT_NE(ErrorCode(plain.body), -32003);
          EXPECT_NE(jsonrpc.status, 401);
          EXPECT_NE(jsonrpc.status, 403);
          EXPECT_NE(ErrorCode(jsonrpc.body), -32001);
          EXPECT_NE(ErrorCode(jsonrpc.body), -32003);
        }
      }
    }
  }

  // GET /health is open; /metrics, /status and `pages` need a client token.
  void ExpectBuiltinPaths(const Daemon& d, const std::vector<std::string>& pages = {}) {
    const int port = testing::PortOf(d.address);
    Answer health = Http(port, "GET", "/health", "", "");
    EXPECT_EQ(health.status, 200) << d.name;
    std::vector<std::string> paths = {"/metrics", "/status"};
    paths.insert(paths.end(), pages.begin(), pages.end());
    for (const std::string& path : paths) {
      SCOPED_TRACE(d.name + " GET " + path);
      EXPECT_EQ(Http(port, "GET", path, "", "").status, 401);
      EXPECT_EQ(Http(port, "GET", path, "", kWrongToken).status, 401);
      for (const auto& [role, token] : kTokens) EXPECT_EQ(Http(port, "GET", path, "", token).status, 200);
    }
  }

  testing::TempDir dir_{"harpc-auth-table"};
  std::string auth_file_;
};

TEST_F(AuthTable, EchoServer) {
  Daemon d{.name = "serve (echo)",
           .args = {"serve", "--listen", "127.0.0.1:0", "--threads", "1"},
           .methods = {{"Echo.echo", Role::kClient},
                       {"Counter.increment", Role::kClient},
                       {"Counter.get", Role::kClient},
                       {"Fault.set", Role::kPeer}}};
  Start(d);
  ExpectTableComplete(d);
  ExpectTable(d);
  ExpectBuiltinPaths(d);

  // The default method (plain POST /rpc) is Echo.echo: client.
  const int port = testing::PortOf(d.address);
  EXPECT_EQ(Http(port, "POST", "/rpc", R"({"key":"value"})", "").status, 401);
  Answer echoed = Http(port, "POST", "/rpc", R"({"key":"value"})", kTokens.at(Role::kClient));
  EXPECT_EQ(echoed.status, 200);
  EXPECT_EQ(echoed.body, boost::json::parse(R"({"key":"value"})"));

  // A batch: each request judged on its own method, in one 200 answer.
  const std::string batch = R"([{"jsonrpc":"2.0","method":"Echo.echo","params":[1],"id":1},)"
                            R"({"jsonrpc":"2.0","method":"Fault.set","params":{},"id":2},)"
                            R"({"jsonrpc":"2.0","method":"Counter.get","id":3}])";
  Answer mixed = Http(port, "POST", "/rpc", batch, kTokens.at(Role::kService));
  ASSERT_EQ(mixed.status, 200);
  ASSERT_TRUE(mixed.body.is_array());
  ASSERT_EQ(mixed.body.as_array().size(), 3u);
  EXPECT_EQ(mixed.body.as_array()[0].at("result"), boost::json::parse("[1]"));
  EXPECT_EQ(ErrorCode(mixed.body.as_array()[1]), -32003);
  EXPECT_EQ(mixed.body.as_array()[1].at("id"), 2);
  EXPECT_TRUE(mixed.body.as_array()[2].as_object().contains("result"));
  Answer all = Http(port, "POST", "/rpc", batch, kTokens.at(Role::kPeer));
  ASSERT_EQ(all.status, 200);
  for (const auto& entry : all.body.as_array()) EXPECT_TRUE(entry.as_object().contains("result")) << entry;
  // Without a token the whole batch is refused at once.
  Answer none = Http(port, "POST", "/rpc", batch, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(ErrorCode(none.body), -32001);
}

TEST_F(AuthTable, BankServer) {
  Daemon d{
      .name = "serve (bank)",
      .args = {"serve", "--service", "bank", "--listen", "127.0.0.1:0", "--threads", "1", "--db", dir_.File("bank.db")},
      .methods = {{"Bank.open", Role::kPeer},
                  {"Bank.deposit", Role::kPeer},
                  {"Bank.audit", Role::kPeer},
                  {"Bank.balance", Role::kClient},
                  {"Bank.debit", Role::kClient},
                  {"Bank.credit", Role::kClient},
                  {"Participant.commit", Role::kPeer},
                  {"Participant.abort", Role::kPeer},
                  {"Participant.status", Role::kPeer}}};
  Start(d);
  ExpectTableComplete(d);
  ExpectTable(d);
  ExpectBuiltinPaths(d);
}

TEST_F(AuthTable, Sentinel) {
  Daemon d{.name = "sentinel",
           .args = {"sentinel", "--listen", "127.0.0.1:0", "--data-dir", dir_.File("sentinel")},
           .methods = {{"Registry.register", Role::kService},
                       {"Registry.heartbeat", Role::kService},
                       {"Registry.deregister", Role::kService},
                       {"Registry.list", Role::kClient},
                       {"Registry.watch", Role::kClient},
                       {"Sentinel.opinion", Role::kPeer},
                       {"Sentinel.vote", Role::kPeer},
                       {"Sentinel.voted", Role::kPeer},
                       {"Sentinel.decide", Role::kPeer},
                       {"Sentinel.events", Role::kClient},
                       {"Sentinel.history", Role::kClient}}};
  Start(d);
  ExpectTableComplete(d);
  ExpectTable(d);
  ExpectBuiltinPaths(d, {"/"});  // the dashboard
}

TEST_F(AuthTable, Coordinator) {
  Daemon d{.name = "coordinator",
           .args = {"coordinator", "--listen", "127.0.0.1:0", "--data-dir", dir_.File("coordinator")},
           .methods = {{"Coordinator.begin", Role::kClient},
                       {"Coordinator.commit", Role::kClient},
                       {"Coordinator.abort", Role::kClient},
                       {"Coordinator.register", Role::kPeer},
                       {"Coordinator.status", Role::kClient}}};
  Start(d);
  ExpectTableComplete(d);
  ExpectTable(d);
  ExpectBuiltinPaths(d);
}

}  // namespace
}  // namespace harpc
