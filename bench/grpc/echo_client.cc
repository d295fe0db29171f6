// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// harpc_grpc_echo_client: a closed-loop load against harpc_grpc_echo_server,
// the gRPC counterpart of `harpc bench` for bench/run.sh.
//
// C calls are kept outstanding at all times: when one completes, the next is
// started at once, for D seconds; then the calls in flight are drained. All calls
// use the async API on one completion queue polled by one thread, like
// `harpc bench`'s single event-loop thread, over one channel (one HTTP/2
// connection; gRPC multiplexes the calls). Latency is measured per call from
// start to completion and recorded in harpc's own histogram
// (src/metrics/histogram.h), so the percentiles are computed the same way.
//
//   harpc_grpc_echo_client 127.0.0.1:PORT [--concurrency C] [--duration S]
//                          [--payload-bytes N] [--channels K] [--json]
//
// --json prints {"requests":N,"ok":N,"errors":N,"qps":X,
//                "latency_ms":{"p50":X,"p99":X,"p999":X,"max":X}}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"
#include "metrics/histogram.h"

namespace {

using Clock = std::chrono::steady_clock;
using harpc::bench::EchoReply;
using harpc::bench::EchoRequest;

// One of the C outstanding calls; its address is the completion-queue tag.
struct Slot {
  harpc::bench::Echo::Stub* stub = nullptr;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientAsyncResponseReader<EchoReply>> reader;
  EchoReply reply;
  grpc::Status status;
  Clock::time_point started;
};

void Usage() {
  std::fprintf(stderr,
               "usage: harpc_grpc_echo_client HOST:PORT [--concurrency C] [--duration S]\n"
               "                              [--payload-bytes N] [--channels K] [--json] [--tls-ca F]\n"
               "  --tls-ca F  call over TLS, trusting the PEM CA certificates in F (default plaintext)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  int concurrency = 1;
  double duration_s = 10;
  size_t payload_bytes = 16;
  int channels = 1;
  bool json = false;
  std::string tls_ca;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--concurrency" || a == "-c") {
      concurrency = std::atoi(value().c_str());
    } else if (a == "--duration") {
      duration_s = std::atof(value().c_str());
    } else if (a == "--payload-bytes") {
      payload_bytes = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--channels") {
      channels = std::atoi(value().c_str());
    } else if (a == "--json") {
      json = true;
    } else if (a == "--tls-ca") {
      std::ifstream in(value());
      tls_ca.assign(std::istreambuf_iterator<char>(in), {});
      if (tls_ca.empty()) {
        std::fprintf(stderr, "harpc_grpc_echo_client: cannot read the CA file\n");
        return 2;
      }
    } else if (!a.empty() && a[0] != '-' && target.empty()) {
      target = a;
    } else {
      Usage();
      return 2;
    }
  }
  if (target.empty() || concurrency < 1 || duration_s <= 0 || channels < 1) {
    Usage();
    return 2;
  }

  // Separate channels need distinct arguments, or gRPC shares one subchannel.
  std::vector<std::unique_ptr<harpc::bench::Echo::Stub>> stubs;
  for (int k = 0; k < channels; ++k) {
    grpc::ChannelArguments args;
    args.SetInt("harpc.bench.channel", k);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls_ca;
    auto credentials = tls_ca.empty() ? grpc::InsecureChannelCredentials() : grpc::SslCredentials(ssl);
    auto channel = grpc::CreateCustomChannel(target, credentials, args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::fprintf(stderr, "harpc_grpc_echo_client: cannot connect to %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(harpc::bench::Echo::NewStub(channel));
  }

  EchoRequest request;
  request.set_payload(std::string(payload_bytes, 'x'));
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(concurrency);
  auto start_call = [&](Slot& s) {
    s.ctx = std::make_unique<grpc::ClientContext>();
    s.reply.Clear();
    s.started = Clock::now();
    s.reader = s.stub->PrepareAsyncEcho(s.ctx.get(), request, &cq);
    s.reader->StartCall();
    s.reader->Finish(&s.reply, &s.status, &s);
  };

  auto latency = std::make_unique<harpc::metrics::Histogram>();
  uint64_t requests = 0, ok = 0, errors = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  for (int i = 0; i < concurrency; ++i) {
    slots[i].stub = stubs[i % channels].get();
    start_call(slots[i]);
  }
  int in_flight = concurrency;
  void* tag;
  bool cq_ok;
  while (in_flight > 0 && cq.Next(&tag, &cq_ok)) {
    Slot& s = *static_cast<Slot*>(tag);
    const Clock::time_point now = Clock::now();
    latency->Record(std::chrono::duration_cast<std::chrono::microseconds>(now - s.started));
    ++requests;
    if (cq_ok && s.status.ok() && s.reply.payload().size() == payload_bytes) {
      ++ok;
    } else {
      ++errors;
    }
    if (now < end) {
      start_call(s);
    } else {
      --in_flight;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  cq.Shutdown();
  while (cq.Next(&tag, &cq_ok)) {
  }

  const double qps = seconds > 0 ? static_cast<double>(requests) / seconds : 0;
  auto ms = [&](double q) { return latency->QuantileMicros(q) / 1000.0; };
  if (json) {
    std::printf(
        "{\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,\"qps\":%.1f,"
        "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}\n",
        (unsigned long long)requests, (unsigned long long)ok, (unsigned long long)errors, qps, ms(0.5), ms(0.99),
        ms(0.999), latency->max_micros() / 1000.0);
  } else {
    std::printf("requests %llu  ok %llu  errors %llu  qps %.0f\n", (unsigned long long)requests, (unsigned long long)ok,
                (unsigned long long)errors, qps);
    std::printf("latency ms  p50 %.3f  p99 %.3f  p999 %.3f  max %.3f\n", ms(0.5), ms(0.99), ms(0.999),
                latency->max_micros() / 1000.0);
  }
  return 0;
}
