// The minisign parsers on the same input: signature file (spec §5, not_authentic on failure),
// public key file and line, secret key file (usage on failure). The password provider always
// refuses, so scrypt never runs: an encrypted key is refused either for its cost limits (checked
// before any allocation) or for want of a password. Round trips: what parses formats to text that
// parses to the same value.
#include <string>

#include "core/crypto/minisign.hpp"
#include "fuzz/harness.hpp"

using namespace airlock;
namespace ms = airlock::minisign;

namespace {

void expect_class(const Error& e, ErrorClass cls, const char* what) {
  if (e.cls() != cls) fuzz::property_failed(what, e.what());
}

bool same(const ms::Signature& a, const ms::Signature& b) {
  return a.algorithm == b.algorithm && a.key_id == b.key_id && a.signature == b.signature &&
         a.untrusted_comment == b.untrusted_comment && a.trusted_comment == b.trusted_comment &&
         a.global_signature == b.global_signature;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto sig = ms::parse_signature(in)) {
    const auto text = ms::format_signature(*sig);
    auto again = ms::parse_signature(text);
    if (!again || !same(*sig, *again)) fuzz::property_failed("signature does not round-trip", text);
  } else {
    expect_class(sig.error(), ErrorClass::not_authentic, "parse_signature failed with a class other than not_authentic");
  }

  if (auto pk = ms::parse_public_key_file(in)) {
    auto again = ms::parse_public_key_file(ms::format_public_key_file(*pk));
    if (!again || again->key_id != pk->key_id || again->pk != pk->pk)
      fuzz::property_failed("public key file does not round-trip", ms::format_public_key_file(*pk));
  } else {
    expect_class(pk.error(), ErrorClass::usage, "parse_public_key_file failed with a class other than usage");
  }

  if (auto pk = ms::parse_public_key_base64(in)) {
    if (ms::public_key_base64(*pk) != in) fuzz::property_failed("public key line does not round-trip", std::string(in));
  } else {
    expect_class(pk.error(), ErrorClass::usage, "parse_public_key_base64 failed with a class other than usage");
  }

  const ms::PasswordProvider refuse = []() -> Result<std::string> {
    return fail(ErrorClass::usage, "no password in the fuzz harness");
  };
  if (auto sk = ms::parse_secret_key_file(in, refuse)) {
    auto text = ms::format_secret_key_file(*sk, std::nullopt);
    if (!text) fuzz::property_failed("cannot format a parsed secret key", text.error().what());
    auto again = ms::parse_secret_key_file(*text, refuse);
    if (!again || again->key_id != sk->key_id || again->sk != sk->sk)
      fuzz::property_failed("secret key file does not round-trip", *text);
  } else {
    expect_class(sk.error(), ErrorClass::usage, "parse_secret_key_file failed with a class other than usage");
  }
  return 0;
}
