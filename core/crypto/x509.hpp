// Certificate checks for a site's health (`cert` checks, docs/site.md): the one place outside
// core/crypto that includes OpenSSL. A PEM file holds the leaf first, then any intermediates.
#pragma once

#include <cstdint>
#include <string>

namespace airlock::x509 {

struct CertRequest {
  std::string path;       // PEM: the leaf, then intermediates
  std::string ca;         // PEM bundle of trusted CAs; "" = the chain is not checked
  std::string host;       // the name the leaf must be valid for; "" = any
  std::int64_t min_days;  // notAfter at least this many days away
};

struct CertVerdict {
  bool ok = false;
  std::string detail;  // why it failed, or what was proved (printable)
};

// notBefore and notAfter always; the chain with OpenSSL's verifier (X509_verify_cert) when a CA
// bundle is given; the host name (DNS SAN, or the CN without SANs) when one is given.
CertVerdict check_certificate(const CertRequest& req);

}  // namespace airlock::x509
