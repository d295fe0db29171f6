// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// The transaction methods' params on a running participant and coordinator:
// Coordinator.begin, register, commit, abort, status; Participant.commit,
// abort, status; and a participant application's methods (the bank service
// of src/apps: Bank.open, deposit, balance, audit, and the transactional
// Bank.debit and Bank.credit). Both are attached to one server on 127.0.0.1,
// as `harpc serve --service bank` next to `harpc coordinator`, the
// participant registering its votes with that coordinator. The input is a
// method session (fuzz_support.h), so "Coordinator.begin {}" then
// "Bank.debit {\"txid\":$txid,...}" and "Coordinator.commit {\"txid\":$txid,...}"
// run a whole transaction.
#include "apps/bank_service.h"
#include "fuzz_support.h"
#include "harpc/coordinator.h"
#include "harpc/txn.h"
#include "method_session.h"
#include "support/test_support.h"
#include "util/free_port.h"

using namespace harpc;

namespace {

struct RunningTransactions {
  RunningTransactions() {
    const std::string address = "127.0.0.1:" + std::to_string(FreeListenPort());
    ServerOptions so;
    so.threads = 1;
    so.handle_signals = false;
    so.shutdown_grace = std::chrono::milliseconds(100);
    server = std::make_unique<Server>(so);
    CoordinatorOptions co;
    co.data_dir = dir.path();
    ParticipantOptions po;
    po.db_path = dir.File("bank.db");
    po.coordinator = address;
    po.allowed_coordinators = {address};
    Status s = Coordinator::Open(co, &coordinator);
    if (s.ok()) s = Participant::Open(po, kBankSchema, &participant);
    if (s.ok()) s = RegisterBankService(*participant);
    if (s.ok()) s = coordinator->Attach(*server);
    if (s.ok()) s = participant->Attach(*server);
    if (s.ok()) s = server->Start(address);
    if (s.ok()) s = coordinator->Start(*server);
    if (s.ok()) s = participant->Start(*server);
    if (!s.ok()) throw std::runtime_error(s.message());
  }
  ~RunningTransactions() {
    server->Shutdown();
    server->Wait();
  }
  // As in `harpc serve`: the server's loops outlive the participant and the coordinator.
  harpc::testing::TempDir dir{"harpc-fuzz-txn"};
  std::unique_ptr<Server> server;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<Participant> participant;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Setup();
  static RunningTransactions txn;
  fuzz::RunSessionOnLoop(*txn.server, fuzz::Bytes(data, size));
  return 0;
}
