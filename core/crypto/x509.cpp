#include "core/crypto/x509.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

namespace airlock::x509 {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using ChainPtr = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;
using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)>;

void free_chain(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }

struct Pem {
  X509Ptr leaf{nullptr, X509_free};
  ChainPtr rest{sk_X509_new_null(), free_chain};
};

bool read_pem(const std::string& path, Pem& out) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  out.leaf.reset(PEM_read_X509(f, nullptr, nullptr, nullptr));
  while (X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr)) sk_X509_push(out.rest.get(), x);
  std::fclose(f);
  ERR_clear_error();  // the end of the file reads as an error
  return out.leaf != nullptr;
}

CertVerdict verify_chain(const Pem& pem, const CertRequest& req) {
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  if (!store || X509_STORE_load_file(store.get(), req.ca.c_str()) != 1) {
    ERR_clear_error();
    return {false, "cannot load the CA bundle '" + req.ca + "'"};
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), pem.leaf.get(), pem.rest.get()) != 1)
    return {false, "cannot set up certificate verification"};
  if (!req.host.empty()) X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), req.host.c_str(), 0);
  if (X509_verify_cert(ctx.get()) == 1) return {true, ""};
  const int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return {false, "'" + req.path + "' does not verify against '" + req.ca + "': " + X509_verify_cert_error_string(err)};
}

// Without a CA bundle the verifier is not run: validity and name are checked directly.
CertVerdict check_alone(const Pem& pem, const CertRequest& req) {
  if (X509_cmp_current_time(X509_get0_notBefore(pem.leaf.get())) > 0)
    return {false, "'" + req.path + "' is not yet valid (notBefore is in the future)"};
  if (X509_cmp_current_time(X509_get0_notAfter(pem.leaf.get())) < 0)
    return {false, "'" + req.path + "' has expired (notAfter is in the past)"};
  if (!req.host.empty() && X509_check_host(pem.leaf.get(), req.host.c_str(), req.host.size(), 0, nullptr) != 1)
    return {false, "'" + req.path + "' is not valid for host '" + req.host + "'"};
  return {true, ""};
}

}  // namespace

CertVerdict check_certificate(const CertRequest& req) {
  Pem pem;
  if (!read_pem(req.path, pem)) return {false, "'" + req.path + "' is not a readable PEM X.509 certificate"};
  CertVerdict v = req.ca.empty() ? check_alone(pem, req) : verify_chain(pem, req);
  if (!v.ok) return v;
  int days = 0, secs = 0;
  if (!ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(pem.leaf.get())))
    return {false, "cannot read notAfter of '" + req.path + "'"};
  const bool ok = days >= req.min_days && (days > 0 || secs > 0);
  std::string what =
      std::to_string(days) + " days left on '" + req.path + "' (minimum " + std::to_string(req.min_days) + ")";
  if (!req.ca.empty()) what += ", chain verified against '" + req.ca + "'";
  if (!req.host.empty()) what += ", valid for '" + req.host + "'";
  return {ok, what};
}

}  // namespace airlock::x509
