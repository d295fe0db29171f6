// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "http/tls_context.h"

#include <map>
#include <tuple>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/fmt/fmt.h>

#include "util/log.h"

namespace harpc::http1 {
namespace ssl = boost::asio::ssl;

namespace {

// Sessions cached per client context; a process talks to few endpoints, and
// one that talks to more starts over rather than growing without bound.
constexpr size_t kMaxCachedSessions = 4096;

int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int SessionKeyIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL's reason for the last failure, which is more specific than the
// error code Asio hands back ("no such file", "key values mismatch", ...).
std::string Reason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  ERR_clear_error();
  return reason;
}

// One static instance, never deleted through a base pointer (error_category's
// destructor is protected).
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor)
class CertificateCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "harpc.tls.certificate"; }
  std::string message(int value) const override {
    return std::string("TLS certificate refused: ") + X509_verify_cert_error_string(value);
  }
};

}  // namespace

const boost::system::error_category& CertificateErrorCategory() {
  static const CertificateCategory category;
  return category;
}

boost::system::error_code ExplainHandshakeError(SSL* ssl, boost::system::error_code ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) return {static_cast<int>(verify), CertificateErrorCategory()};
  return ec;
}

Status TlsContext::Load(Side side, const TlsOptions& options, std::shared_ptr<TlsContext>* out) {
  std::shared_ptr<TlsContext> context(new TlsContext(side, options));
  std::shared_ptr<ssl::context> built;
  Status status = context->Build(&built);
  if (!status.ok()) return status;
  context->current_ = std::move(built);
  *out = std::move(context);
  return Status();
}

Status TlsContext::Build(std::shared_ptr<ssl::context>* out) const {
  const bool server = side_ == Side::kServer;
  auto context = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression | SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;

  if (server && !options_.server_enabled()) return InvalidArgument("TLS: a server needs a certificate (--tls-cert)");
  if (!server && !options_.client_enabled()) return InvalidArgument("TLS: a client needs CA certificates (--tls-ca)");
  if (options_.cert_file.empty() != options_.key_file.empty()) {
    return InvalidArgument("TLS: a certificate needs its key and a key its certificate (--tls-cert with --tls-key)");
  }
  if (!options_.cert_file.empty()) {
    context->use_certificate_chain_file(options_.cert_file, ec);
    if (ec) return InvalidArgument(fmt::format("TLS: cannot use certificate {}: {}", options_.cert_file, Reason(ec)));
    context->use_private_key_file(options_.key_file, ssl::context::pem, ec);
    const bool mismatch = ec && ec.category() == boost::asio::error::get_ssl_category() &&
                          ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
    if (ec && !mismatch)
      return InvalidArgument(fmt::format("TLS: cannot use key {}: {}", options_.key_file, Reason(ec)));
    if (mismatch || SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return InvalidArgument(
          fmt::format("TLS: key {} does not belong to certificate {}", options_.key_file, options_.cert_file));
    }
  }

  const std::string& ca = server ? options_.client_ca_file : options_.ca_file;
  if (!ca.empty()) {
    context->load_verify_file(ca, ec);
    if (ec) return InvalidArgument(fmt::format("TLS: cannot use CA file {}: {}", ca, Reason(ec)));
  }
  if (server) {
    // One ticket per handshake: a harpc client keeps one session per endpoint.
    SSL_CTX_set_num_tickets(native, 1);
    // Resumed sessions must keep the client-certificate check; OpenSSL
    // refuses to resume without a session id context when peers are verified.
    static const unsigned char kSessionContext[] = "harpc";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
    if (!ca.empty()) {
      SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(ca.c_str()));
      context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  } else {
    context->set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(native, &TlsContext::OnNewSession);
    SSL_CTX_set_ex_data(native, ContextIndex(), const_cast<TlsContext*>(this));
  }
  *out = std::move(context);
  return Status();
}

namespace {
// The client contexts of the process, one per set of files.
struct ClientContexts {
  using Key = std::tuple<std::string, std::string, std::string>;
  std::mutex mu;
  std::map<Key, std::shared_ptr<TlsContext>> by_files;

  static ClientContexts& Get() {
    static ClientContexts contexts;
    return contexts;
  }
};
}  // namespace

Status TlsContext::ForClient(const TlsOptions& options, std::shared_ptr<TlsContext>* out) {
  ClientContexts& contexts = ClientContexts::Get();
  ClientContexts::Key key{options.ca_file, options.cert_file, options.key_file};
  std::lock_guard lock(contexts.mu);
  auto it = contexts.by_files.find(key);
  if (it == contexts.by_files.end()) {
    std::shared_ptr<TlsContext> loaded;
    Status status = Load(Side::kClient, options, &loaded);
    if (!status.ok()) return status;
    it = contexts.by_files.emplace(key, std::move(loaded)).first;
  }
  *out = it->second;
  return Status();
}

Status TlsContext::ReloadClients() {
  ClientContexts& contexts = ClientContexts::Get();
  std::lock_guard lock(contexts.mu);
  Status first_error;
  for (auto& [files, context] : contexts.by_files) {
    Status status = context->Reload();
    if (status.ok()) continue;
    // A context no connection holds now (only this cache does) may be one
    // whose files are gone for good, as a finished client's temporary ones:
    // it keeps its previous files, and its failure is no reason to call the
    // whole reload failed.
    if (context.use_count() == 1) {
      Log().warn("TLS client credentials not reloaded (not in use): {}", status.message());
    } else if (first_error.ok()) {
      first_error = status;
    }
  }
  return first_error;
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

Status TlsContext::Reload() {
  std::shared_ptr<ssl::context> built;
  Status status = Build(&built);
  if (!status.ok()) return status;
  std::lock_guard lock(mu_);
  current_ = std::move(built);
  // Sessions of the old files (their CA may no longer be trusted) go too.
  for (auto& [endpoint, session] : sessions_) SSL_SESSION_free(session);
  sessions_.clear();
  return Status();
}

void TlsContext::PrepareClient(SSL* ssl, const boost::asio::ip::address& address, const std::string& session_key) {
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.to_string().c_str());
  SSL_set_ex_data(ssl, SessionKeyIndex(), const_cast<std::string*>(&session_key));
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_key);
  if (it != sessions_.end()) SSL_set_session(ssl, it->second);
}

int TlsContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
  auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, SessionKeyIndex()));
  if (self == nullptr || key == nullptr) return 0;
  std::lock_guard lock(self->mu_);
  auto [it, inserted] = self->sessions_.try_emplace(*key, nullptr);
  if (inserted && self->sessions_.size() > kMaxCachedSessions) {
    for (auto& [endpoint, old] : self->sessions_) {
      if (old != nullptr) SSL_SESSION_free(old);
    }
    self->sessions_.clear();
    it = self->sessions_.try_emplace(*key, nullptr).first;
  }
  if (it->second != nullptr) SSL_SESSION_free(it->second);
  // A copy: OpenSSL marks the connection's own session unresumable when the
  // connection ends without a close_notify, as pooled connections do.
  it->second = SSL_SESSION_dup(session);
  return 0;  // OpenSSL keeps (and frees) its own
}

TlsContext::~TlsContext() {
  for (auto& [endpoint, session] : sessions_) SSL_SESSION_free(session);
}

}  // namespace harpc::http1
