// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc_grpc_echo_server: the gRPC C++ peer of `harpc serve` for bench/run.sh.
//
// An async server: one completion queue per thread (--threads, default 1, the
// same as `harpc serve --threads 1`), each polled by its own thread, with a pool
// of outstanding RequestEcho calls so that concurrent clients never wait for a
// call slot. Echo returns the request's payload.
//
//   harpc_grpc_echo_server --listen 127.0.0.1:0 [--threads N]
//
// Prints "listening on 127.0.0.1:PORT" as its first stdout line once serving;
// SIGTERM or SIGINT shut it down.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

namespace {

using harpc::bench::EchoReply;
using harpc::bench::EchoRequest;

// One call slot: requests a call, answers it, then re-arms itself.
class CallData {
 public:
  CallData(harpc::bench::Echo::AsyncService* service, grpc::ServerCompletionQueue* cq) : service_(service), cq_(cq) {
    Arm();
  }

  // Called with the completion queue's `ok` for this slot's pending operation.
  void Proceed(bool ok) {
    if (state_ == State::kRequested) {
      if (!ok) {  // the queue is shutting down
        delete this;
        return;
      }
      reply_.set_payload(request_.payload());
      state_ = State::kFinishing;
      responder_->Finish(reply_, grpc::Status::OK, this);
    } else {
      // The answer went out (or the call was cancelled): take the next call.
      if (shutting_down_) {
        delete this;
        return;
      }
      Arm();
    }
  }

  static inline std::atomic<bool> shutting_down_{false};

 private:
  enum class State { kRequested, kFinishing };

  void Arm() {
    ctx_ = std::make_unique<grpc::ServerContext>();
    responder_ = std::make_unique<grpc::ServerAsyncResponseWriter<EchoReply>>(ctx_.get());
    request_.Clear();
    reply_.Clear();
    state_ = State::kRequested;
    service_->RequestEcho(ctx_.get(), &request_, responder_.get(), cq_, cq_, this);
  }

  harpc::bench::Echo::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  std::unique_ptr<grpc::ServerContext> ctx_;
  std::unique_ptr<grpc::ServerAsyncResponseWriter<EchoReply>> responder_;
  EchoRequest request_;
  EchoReply reply_;
  State state_ = State::kRequested;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "harpc_grpc_echo_server: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Usage() {
  std::fprintf(stderr,
               "usage: harpc_grpc_echo_server [--listen H:P] [--threads N] [--slots N] [--tls-cert F --tls-key F]\n"
               "  --listen   address to listen on (default 127.0.0.1:0, a free port)\n"
               "  --tls-cert, --tls-key  PEM certificate and key: TLS on the listener (default plaintext)\n"
               "  --threads  completion-queue threads (default 1)\n"
               "  --slots    outstanding call slots per queue (default 256)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  int threads = 1;
  int slots = 256;
  std::string tls_cert, tls_key;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--listen") {
      listen = value();
    } else if (a == "--threads") {
      threads = std::atoi(value().c_str());
    } else if (a == "--slots") {
      slots = std::atoi(value().c_str());
    } else if (a == "--tls-cert") {
      tls_cert = ReadFile(value());
    } else if (a == "--tls-key") {
      tls_key = ReadFile(value());
    } else {
      Usage();
      return 2;
    }
  }
  if (threads < 1 || slots < 1) {
    Usage();
    return 2;
  }

  // Block the shutdown signals in every thread (gRPC's included); one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  harpc::bench::Echo::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tls_key, tls_cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(listen, credentials, &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  for (int i = 0; i < threads; ++i) queues.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "harpc_grpc_echo_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);

  std::vector<std::thread> workers;
  for (auto& q : queues) {
    grpc::ServerCompletionQueue* cq = q.get();
    for (int s = 0; s < slots; ++s) new CallData(&service, cq);
    workers.emplace_back([cq] {
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) static_cast<CallData*>(tag)->Proceed(ok);
    });
  }

  int sig = 0;
  sigwait(&signals, &sig);
  CallData::shutting_down_ = true;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto& q : queues) q->Shutdown();
  for (auto& t : workers) t.join();
  return 0;
}
