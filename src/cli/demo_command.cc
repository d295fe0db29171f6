// harpc demo: a local cluster that shows harpc at work, in under a minute.
// Every process it starts is a child of this one, stopped by PID at the end
// (and killed by the kernel if the demo itself dies).
#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "cli/load_generator.h"
#include "harpc/channel.h"
#include "util/subprocess.h"

namespace harpc::cli {

namespace {

struct DemoServer {
  std::string name;
  int weight = 1;
  Subprocess process;
  std::string address;
};

Status StartServer(DemoServer& s, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {SelfExecutable(), "serve", "--listen", "127.0.0.1:0", "--name", s.name,
                                   "--threads", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (Status st = Subprocess::Spawn(argv, &s.process, "/dev/null"); !st.ok()) return st;
  std::string line;
  if (Status st = s.process.ReadLine(std::chrono::seconds(10), &line); !st.ok()) return st;
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0) return Internal("unexpected first line from " + s.name + ": " + line);
  s.address = line.substr(prefix.size());
  return Status::Ok();
}

std::string ListTarget(const std::vector<DemoServer>& servers) {
  std::string t = "list://";
  for (const DemoServer& s : servers) {
    if (t.size() > 7) t += ',';
    t += s.address + "=" + std::to_string(s.weight);
  }
  return t;
}

void Heading(const char* text) { std::printf("\n== %s\n", text); }

int RunDemo() {
  Heading("1. Three echo servers on free loopback ports, weighted 5, 1, 1");
  std::vector<DemoServer> servers(3);
  const char* names[] = {"alpha", "beta", "gamma"};
  const int weights[] = {5, 1, 1};
  for (int i = 0; i < 3; ++i) {
    servers[i].name = names[i];
    servers[i].weight = weights[i];
    if (Status s = StartServer(servers[i], {}); !s.ok()) {
      std::fprintf(stderr, "harpc demo: cannot start %s: %s\n", names[i], s.ToString().c_str());
      return 1;
    }
    std::printf("  %-6s %-22s weight %d  pid %d\n", servers[i].name.c_str(), servers[i].address.c_str(),
                servers[i].weight, servers[i].process.pid());
  }

  Heading("2. A 3-second closed-loop load: 16 callers, smooth weighted round robin");
  const std::string target = ListTarget(servers);
  std::printf("  target %s\n", target.c_str());
  {
    Channel channel(target, {});
    LoadSpec spec{.method = "/", .params = boost::json::parse(R"({"key":"value"})"), .concurrency = 16,
                  .duration = std::chrono::seconds(3)};
    LoadReport report = RunLoad(channel, spec);
    std::printf("%s", report.ToText().c_str());
    std::printf("  expected shares for weights 5:1:1 are 71.4%% / 14.3%% / 14.3%%\n");
  }

  Heading("3. A dead endpoint in the target: connections refused, calls fail over");
  {
    // Stop gamma for good: its port now refuses connections.
    servers[2].process.Signal(SIGKILL);
    servers[2].process.Wait(std::chrono::seconds(5));
    std::printf("  gamma (%s) killed with SIGKILL\n", servers[2].address.c_str());
    Channel channel(target, {});
    LoadSpec spec{.method = "Echo.echo", .params = boost::json::parse(R"({"n":1})"), .concurrency = 8,
                  .duration = std::chrono::seconds(2)};
    LoadReport report = RunLoad(channel, spec);
    std::printf("%s", report.ToText().c_str());
    std::printf("  every refused connection was retried on another endpoint: %llu retries, %llu failed calls\n",
                (unsigned long long)report.retries, (unsigned long long)report.errors);
  }

  Heading("4. Graceful shutdown: SIGTERM drains and exits 0");
  for (int i = 0; i < 2; ++i) {
    servers[i].process.Signal(SIGTERM);
    auto code = servers[i].process.Wait(std::chrono::seconds(15));
    std::printf("  %-6s exit status %s\n", servers[i].name.c_str(), code ? std::to_string(*code).c_str() : "(still running)");
  }
  std::printf("\nDemo finished; every process it started has stopped.\n");
  return 0;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("demo", "Run a local cluster that shows harpc's mechanisms at work");
  cmd->callback([&exit_code] { exit_code = RunDemo(); });
}

}  // namespace harpc::cli
