// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "balance/consistent_hash.h"

#include <algorithm>

#include "util/hash.h"

namespace harpc {

void ConsistentHash::Update(const std::vector<std::shared_ptr<Endpoint>>& endpoints) {
  endpoints_.clear();
  for (const auto& e : endpoints) endpoints_.push_back(e.get());
  // Every client must see the same order, whatever order its resolver gives.
  std::sort(endpoints_.begin(), endpoints_.end(),
            [](const Endpoint* a, const Endpoint* b) { return a->address() < b->address(); });

  std::vector<std::pair<std::string, int>> wanted;
  for (const Endpoint* e : endpoints_) wanted.emplace_back(e->address(), e->weight());
  // Resolvers often repeat an unchanged list; the table is then still right.
  if (wanted == built_) return;
  built_ = std::move(wanted);
  BuildTable();
}

void ConsistentHash::BuildTable() {
  constexpr uint32_t kEmpty = UINT32_MAX;
  table_.assign(kTableSize, kEmpty);
  const size_t n = endpoints_.size();
  if (n == 0) return;

  struct Filler {
    uint64_t next;  // the next slot of its permutation to try
    uint64_t skip;  // the permutation's stride, in [1, M)
    uint64_t weight;
    uint64_t claimed = 0;
  };
  std::vector<Filler> fillers;
  uint64_t max_weight = 1;
  for (const Endpoint* e : endpoints_) {
    const uint64_t weight = static_cast<uint64_t>(std::max(e->weight(), 1));
    fillers.push_back(
        {StableHash(e->address(), 1) % kTableSize, StableHash(e->address(), 2) % (kTableSize - 1) + 1, weight});
    max_weight = std::max(max_weight, weight);
  }

  uint64_t filled = 0;
  for (uint64_t round = 1; filled < kTableSize; ++round) {
    for (size_t i = 0; i < n && filled < kTableSize; ++i) {
      Filler& f = fillers[i];
      // The heaviest claim every round, the others while claimed / round stays
      // within weight / max_weight. Everyone gets a first slot, however light,
      // so that every endpoint can take over keys when others are skipped.
      if (f.claimed > 0 && (f.claimed + 1) * max_weight > round * f.weight) continue;
      while (table_[f.next] != kEmpty) {
        f.next += f.skip;  // mod M, without the division
        if (f.next >= kTableSize) f.next -= kTableSize;
      }
      table_[f.next] = static_cast<uint32_t>(i);
      ++f.claimed;
      ++filled;
    }
  }
}

Endpoint* ConsistentHash::Pick(const PickRequest& request) {
  if (endpoints_.empty()) return nullptr;
  uint64_t slot = (request.hash != 0 ? request.hash : rng_.Next()) % kTableSize;
  if (Endpoint* e = endpoints_[table_[slot]]; !request.Skips(e)) return e;

  // Walk on from the key's slot. Each endpoint is judged once up front, so a
  // long walk costs a bit test per slot, and "all skipped" is known at once.
  usable_.assign(endpoints_.size(), false);
  bool any = false;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    usable_[i] = !request.Skips(endpoints_[i]);
    any = any || usable_[i];
  }
  if (!any) return nullptr;
  // Every endpoint holds a slot (BuildTable), so one lap finds a usable one,
  // unless there are more endpoints than slots.
  for (uint32_t step = 1; step < kTableSize; ++step) {
    slot = slot + 1 == kTableSize ? 0 : slot + 1;
    if (usable_[table_[slot]]) return endpoints_[table_[slot]];
  }
  return endpoints_[static_cast<size_t>(std::find(usable_.begin(), usable_.end(), true) - usable_.begin())];
}

}  // namespace harpc
