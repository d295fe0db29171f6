#include "sentinel/sentinel.h"

#include <algorithm>
#include <cstdio>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "harpc/server.h"
#include "sentinel/dashboard.h"
#include "util/address.h"
#include "util/json_params.h"

namespace harpc::sentinel {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

class Sentinel {
 public:
  Sentinel(const SentinelOptions& options, std::unique_ptr<RegistryStore> store)
      : options_(options),
        registry_(std::move(store)),
        notifier_(options.notify_command, options.webhook_url, options.security.tls) {}

  Status Run() {
    if (Status s = registry_.Load(); !s.ok()) return s;
    ServerOptions so;
    so.threads = 1;  // the registry, monitor and notifier share one loop: no locks
    so.name = "sentinel";
    so.tls = options_.tls;
    so.auth = options_.auth;
    Server server(so);
    if (Status s = AddMethods(server); !s.ok()) return s;
    if (Status s = server.Start(options_.listen); !s.ok()) return s;

    MonitorOptions mo{.self = server.address(), .peers = options_.peers, .quorum = options_.quorum,
                      .down_after = options_.down_after, .probe_interval = options_.probe_interval,
                      .security = options_.security};
    if (mo.quorum <= 0) mo.quorum = static_cast<int>(options_.peers.size() + 1) / 2 + 1;
    monitor_ = std::make_unique<Monitor>(registry_, notifier_, mo);
    notifier_.SetExecutor(server.executor());
    asio::post(server.executor(), [this, executor = server.executor()] { monitor_->Start(executor); });
    std::printf("listening on %s\n", server.address().c_str());
    std::fflush(stdout);
    spdlog::info("sentinel {}: peers [{}], quorum {}, down-after {} ms, probe every {} ms, data in {}",
                 server.address(), fmt::join(options_.peers, ","), mo.quorum, options_.down_after.count(),
                 options_.probe_interval.count(), options_.data_dir);
    server.Wait();
    monitor_.reset();  // its channels run on the server's loop
    return Status::Ok();
  }

 private:
  Status AddMethods(Server& server) {
    Status s = server.AddMethod("Registry.register", [this](const json::value& p, CallContext&) -> Result {
      Registry::Registration r;
      int64_t weight = 1, ttl = 3000;
      if (Status s = StringField(p, "service", true, &r.service); !s.ok()) return s;
      if (Status s = StringField(p, "address", true, &r.address); !s.ok()) return s;
      if (Status s = StringField(p, "name", false, &r.name); !s.ok()) return s;
      if (Status s = IntField(p, "weight", false, &weight); !s.ok()) return s;
      if (Status s = IntField(p, "ttl_ms", false, &ttl); !s.ok()) return s;
      if (const json::value* m = p.as_object().if_contains("metadata")) {
        if (!m->is_object()) return InvalidArgument("\"metadata\" must be an object");
        r.metadata = m->as_object();
      }
      if (IsGroupAddress(r.address)) {
        return InvalidArgument("address " + r.address + " is a sentinel of this group, not an instance to watch");
      }
      r.weight = static_cast<int>(std::clamp<int64_t>(weight, -1, 10000000));
      r.ttl = std::chrono::milliseconds(ttl);
      std::string lease;
      const bool known = registry_.Find(r.service, r.address) != nullptr;
      if (Status s = registry_.Register(r, &lease); !s.ok()) return s;
      if (!known) notifier_.Publish({"registered", r.service, r.address, registry_.epoch(), WallClockMs(), server_address()}, false);
      return json::value{{"lease", lease}, {"ttl_ms", ttl}, {"epoch", registry_.epoch()}};
    }, {.role = Role::kService});
    if (s.ok()) s = server.AddMethod("Registry.heartbeat", [this](const json::value& p, CallContext&) -> Result {
      std::string lease;
      if (Status s = StringField(p, "lease", true, &lease); !s.ok()) return s;
      if (Status s = registry_.Heartbeat(lease); !s.ok()) return s;
      return json::value{{"ok", true}};
    }, {.idempotent = true, .role = Role::kService});
    if (s.ok()) s = server.AddMethod("Registry.deregister", [this](const json::value& p, CallContext&) -> Result {
      std::string lease;
      if (Status s = StringField(p, "lease", true, &lease); !s.ok()) return s;
      std::string service, address;
      for (Instance* i : registry_.All()) {
        if (i->lease == lease) {
          service = i->service;
          address = i->address;
        }
      }
      if (Status s = registry_.Deregister(lease); !s.ok()) return s;
      notifier_.Publish({"deregistered", service, address, registry_.epoch(), WallClockMs(), server_address()}, false);
      return json::value{{"ok", true}};
    }, {.idempotent = true, .role = Role::kService});
    if (s.ok()) s = server.AddMethod("Registry.list", [this](const json::value&, CallContext&) -> Result {
      return json::value(registry_.StatusJson());
    }, {.idempotent = true});
    if (s.ok()) s = server.AddAsyncMethod("Registry.watch", [this](json::value p, CallContext& ctx) -> asio::awaitable<Result> {
      std::string service;
      if (Status s = StringField(p, "service", true, &service); !s.ok()) co_return s;
      int64_t index = -1, timeout_ms = 5000;
      if (Status s = IntField(p, "index", false, &index); !s.ok()) co_return s;
      if (Status s = IntField(p, "timeout_ms", false, &timeout_ms); !s.ok()) co_return s;
      auto timeout = std::min(std::chrono::milliseconds(std::clamp<int64_t>(timeout_ms, 0, 60000)),
                              ctx.remaining() - std::chrono::milliseconds(50));
      if (index >= 0 && static_cast<uint64_t>(index) == registry_.index() && timeout.count() > 0) {
        co_await registry_.WaitForChange(static_cast<uint64_t>(index), timeout);
      }
      co_return json::value(registry_.Snapshot(service));
    }, {.idempotent = true});
    if (s.ok()) s = server.AddMethod("Sentinel.opinion", [this](const json::value& p, CallContext&) -> Result {
      std::string service, address;
      if (Status s = StringField(p, "service", true, &service); !s.ok()) return s;
      if (Status s = StringField(p, "address", true, &address); !s.ok()) return s;
      return json::value(monitor_ ? monitor_->Opinion(service, address) : json::object{});
    }, {.idempotent = true, .role = Role::kPeer});
    if (s.ok()) s = server.AddMethod("Sentinel.vote", [this](const json::value& p, CallContext&) -> Result {
      std::string candidate;
      int64_t epoch = 0;
      if (Status s = StringField(p, "candidate", true, &candidate); !s.ok()) return s;
      if (Status s = IntField(p, "epoch", false, &epoch); !s.ok()) return s;
      if (epoch <= 0) return InvalidArgument("\"epoch\" must be a positive integer");
      if (!monitor_) return Unavailable("sentinel is starting");
      return json::value(monitor_->Vote(epoch, candidate));
    }, {.role = Role::kPeer});
    if (s.ok()) s = server.AddMethod("Sentinel.decide", [this](const json::value& p, CallContext&) -> Result {
      std::string service, address, leader;
      int64_t epoch = 0;
      if (Status s = StringField(p, "service", true, &service); !s.ok()) return s;
      if (Status s = StringField(p, "address", true, &address); !s.ok()) return s;
      if (Status s = StringField(p, "leader", false, &leader); !s.ok()) return s;
      if (Status s = IntField(p, "epoch", false, &epoch); !s.ok()) return s;
      const json::value* odown = p.as_object().if_contains("odown");
      if (!odown || !odown->is_bool()) return InvalidArgument("\"odown\" must be true or false");
      if (epoch <= 0) return InvalidArgument("\"epoch\" must be a positive integer");
      if (!monitor_) return Unavailable("sentinel is starting");
      monitor_->Decide(service, address, odown->as_bool(), epoch, leader);
      return json::value{{"ok", true}};
    }, {.idempotent = true, .role = Role::kPeer});
    if (s.ok()) s = server.AddMethod("Sentinel.events", [this](const json::value&, CallContext&) -> Result {
      return json::value(notifier_.Recent());
    }, {.idempotent = true});
    // The dashboard, like /status, needs role client (the default of pages).
    if (s.ok()) s = server.AddPage("/", [] { return Server::Page{.body = std::string(DashboardHtml())}; });
    if (s.ok()) s = server.AddMetrics([this] { return notifier_.MetricsText() + RegistryMetrics(); });
    server_ = &server;
    return s;
  }

  std::string server_address() const { return server_ ? server_->address() : options_.listen; }

  // Whether `address` is this sentinel or one of its peers: registered as an
  // instance, it would have the group probe (and vote on) itself. Numeric
  // addresses are compared as addresses, names as written (no lookup on the
  // loop); a sentinel listening on 0.0.0.0 or :: is every local address.
  bool IsGroupAddress(const std::string& address) const {
    auto same = [](const std::string& a, const std::string& b) {
      HostPort x, y;
      if (!ParseHostPort(a, &x, true).ok() || !ParseHostPort(b, &y, true).ok()) return a == b;
      if (x.port != y.port) return false;
      boost::system::error_code ex, ey;
      const auto ax = asio::ip::make_address(x.host, ex);
      const auto ay = asio::ip::make_address(y.host, ey);
      if (ex || ey) return x.host == y.host;
      return ax == ay || ax.is_unspecified() || ay.is_unspecified();
    };
    if (same(address, server_address())) return true;
    return std::any_of(options_.peers.begin(), options_.peers.end(),
                       [&](const std::string& peer) { return same(address, peer); });
  }

  std::string RegistryMetrics() const {
    std::map<std::string, uint64_t> by_state;
    for (const auto& [service, instances] : registry_.services()) {
      for (const auto& [address, i] : instances) ++by_state[std::string(i.State())];
    }
    std::string out = "# HELP harpc_sentinel_instances Registered instances by state.\n"
                      "# TYPE harpc_sentinel_instances gauge\n";
    for (const char* state : {"up", "sdown", "odown", "draining"}) {
      out += "harpc_sentinel_instances{state=\"" + std::string(state) + "\"} " + std::to_string(by_state[state]) + "\n";
    }
    out += "# HELP harpc_sentinel_epoch The configuration epoch.\n# TYPE harpc_sentinel_epoch gauge\n";
    out += "harpc_sentinel_epoch " + std::to_string(registry_.epoch()) + "\n";
    return out;
  }

  SentinelOptions options_;
  Registry registry_;
  Notifier notifier_;
  std::unique_ptr<Monitor> monitor_;
  Server* server_ = nullptr;
};

}  // namespace

Status RunSentinel(const SentinelOptions& options) {
  if (options.data_dir.empty()) return InvalidArgument("--data-dir is required");
  std::unique_ptr<RegistryStore> store;
  if (Status s = RegistryStore::Open(options.data_dir, &store); !s.ok()) return s;
  Sentinel sentinel(options, std::move(store));
  return sentinel.Run();
}

}  // namespace harpc::sentinel
