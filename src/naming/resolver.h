// Resolvers turn a target into a membership that changes over time:
//   list://H:P[=W],...        fixed (also bare "H:P[,H:P]")
//   file:///path/eps.json     a JSON list, reloaded when the file changes
//   sentinel://H:P[,H:P]/SVC  watched on harpc sentinels
//   etcd://H:P/SVC            watched on etcd v3 (JSON gateway)
// A resolver runs on its channel's event loop and hands every new membership
// to the channel, which keeps the state of endpoints that stay.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "harpc/status.h"
#include "naming/target.h"

namespace harpc {

class Resolver {
 public:
  // Called on the channel's loop with the complete membership each time it changes.
  using Listener = std::function<void(std::vector<EndpointSpec>)>;

  virtual ~Resolver() = default;
  // Begins resolving on `executor`; the first membership may come later.
  virtual void Start(boost::asio::any_io_executor executor, Listener listener) = 0;
  // Stops watching; no call to the listener after it returns (on the loop).
  virtual void Stop() = 0;
};

// Checks the target's syntax now (INVALID_ARGUMENT with the reason) and
// makes the resolver for its scheme.
Status MakeResolver(std::string_view target, std::unique_ptr<Resolver>* out);

}  // namespace harpc
