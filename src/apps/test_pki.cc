// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "apps/test_pki.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/random_id.h"

namespace harpc {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

struct Validity {
  long not_before_s;  // relative to now
  long not_after_s;
};

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null).
CertPtr Issue(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key, bool is_ca,
              const char* ip_san, Validity validity) {
  CertPtr cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  // Distinct serials, so that no verifier mistakes one test certificate for another.
  const std::string serial = RandomId().substr(0, 16);
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, serial.c_str());
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), validity.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity.not_after_s);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth") &&
         AddExtension(cert.get(), signer, NID_subject_alt_name, ip_san);
  }
  ok = ok && AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) ok = ok && AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return CertPtr(nullptr, &X509_free);
  return cert;
}

bool WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = cert != nullptr ? PEM_write_X509(f, cert) == 1
                                  : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (std::fclose(f) != 0 || !ok) return false;
  std::error_code ec;
  if (key != nullptr) {  // private keys readable by their owner only
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  return !ec;
}

}  // namespace

Status MakeTestPki(const std::string& dir, TestPki* out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument("cannot create " + dir + ": " + ec.message());
  constexpr long kDay = 24 * 3600;
  const Validity valid{-3600, kDay};
  const Validity expired{-2 * kDay, -kDay};

  KeyPtr ca_key = NewKey(), other_ca_key = NewKey(), key = NewKey(), other_key = NewKey(), expired_key = NewKey(),
         wrong_ip_key = NewKey();
  if (!ca_key || !other_ca_key || !key || !other_key || !expired_key || !wrong_ip_key) {
    return Internal("cannot generate a P-256 key");
  }
  CertPtr ca = Issue(ca_key.get(), "harpc test CA", nullptr, ca_key.get(), true, nullptr, valid);
  CertPtr other_ca = Issue(other_ca_key.get(), "unrelated CA", nullptr, other_ca_key.get(), true, nullptr, valid);
  if (!ca || !other_ca) return Internal("cannot issue the test CAs");
  CertPtr cert = Issue(key.get(), "harpc", ca.get(), ca_key.get(), false, "IP:127.0.0.1", valid);
  CertPtr other = Issue(other_key.get(), "harpc", other_ca.get(), other_ca_key.get(), false, "IP:127.0.0.1", valid);
  CertPtr old = Issue(expired_key.get(), "harpc", ca.get(), ca_key.get(), false, "IP:127.0.0.1", expired);
  CertPtr wrong_ip = Issue(wrong_ip_key.get(), "harpc", ca.get(), ca_key.get(), false, "IP:127.0.0.2", valid);
  if (!cert || !other || !old || !wrong_ip) return Internal("cannot issue the test certificates");

  TestPki pki;
  pki.dir = dir;
  auto path = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
  pki.ca_cert = path("ca.pem");
  pki.cert = path("cert.pem");
  pki.key = path("key.pem");
  pki.other_ca_cert = path("other-ca.pem");
  pki.other_cert = path("other-cert.pem");
  pki.other_key = path("other-key.pem");
  pki.expired_cert = path("expired-cert.pem");
  pki.expired_key = path("expired-key.pem");
  pki.wrong_ip_cert = path("wrong-ip-cert.pem");
  pki.wrong_ip_key = path("wrong-ip-key.pem");
  const bool written =
      WritePem(pki.ca_cert, ca.get(), nullptr) && WritePem(pki.cert, cert.get(), nullptr) &&
      WritePem(pki.key, nullptr, key.get()) && WritePem(pki.other_ca_cert, other_ca.get(), nullptr) &&
      WritePem(pki.other_cert, other.get(), nullptr) && WritePem(pki.other_key, nullptr, other_key.get()) &&
      WritePem(pki.expired_cert, old.get(), nullptr) && WritePem(pki.expired_key, nullptr, expired_key.get()) &&
      WritePem(pki.wrong_ip_cert, wrong_ip.get(), nullptr) && WritePem(pki.wrong_ip_key, nullptr, wrong_ip_key.get());
  if (!written) return Internal("cannot write the test certificates into " + dir);
  *out = std::move(pki);
  return Status();
}

}  // namespace harpc
