// minisign 0.11 public keys and signatures (see core/crypto/minisign.hpp for the byte layouts).
//
// Signature parsing is stricter than stock minisign, on purpose (spec §5): a signature travels
// inside a bundle, and two implementations must agree on every byte of it. Beyond minisign we
// refuse: any '\r' (CRLF line endings: minisign would trim them, which leaves two texts for one
// signature), NUL bytes in a comment (minisign's strlen would verify a shorter trusted comment
// than we do), comments over kMaxCommentBytes, non-canonical base64, and the legacy "Ed" form.
#include <sodium.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/crypto/base64.hpp"
#include "core/crypto/crypto_init.hpp"
#include "core/crypto/hash.hpp"
#include "core/crypto/minisign.hpp"
#include "core/crypto/minisign_internal.hpp"

namespace airlock::minisign {

namespace {

constexpr std::string_view kUntrustedPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedPrefix = "trusted comment: ";
constexpr std::size_t kPublicKeyBytes = 2 + 8 + 32;
constexpr std::size_t kSignatureBytes = 2 + 8 + 64;

Result<std::vector<std::string_view>> split_lines(std::string_view contents) {
  if (contents.ends_with('\n')) contents.remove_suffix(1);
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (true) {
    auto nl = contents.find('\n', start);
    lines.push_back(contents.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
    if (lines.size() > 4) break;  // enough to know it is too many
  }
  return lines;
}

Status check_comment(std::string_view line, std::string_view prefix, const char* which, std::string& out) {
  if (!line.starts_with(prefix))
    return fail(ErrorClass::not_authentic, std::string(which) + " line does not start with \"" + std::string(prefix) + "\"");
  auto text = line.substr(prefix.size());
  if (text.size() > kMaxCommentBytes)
    return fail(ErrorClass::not_authentic, std::string(which) + " is " + std::to_string(text.size()) +
                                               " bytes, over the limit of " + std::to_string(kMaxCommentBytes));
  if (text.find('\0') != std::string_view::npos)
    return fail(ErrorClass::not_authentic, std::string(which) + " contains a NUL byte");
  out.assign(text);
  return {};
}

Result<std::vector<std::uint8_t>> decode_exact(std::string_view line, std::size_t want, const char* which) {
  auto bytes = base64_decode_strict(line);
  if (!bytes) return fail(ErrorClass::not_authentic, std::string(which) + " line is not valid base64");
  if (bytes->size() != want)
    return fail(ErrorClass::not_authentic, std::string(which) + " decodes to " + std::to_string(bytes->size()) +
                                               " bytes, expected " + std::to_string(want));
  return *bytes;
}

std::string signed_global(const Signature& sig) {
  std::string m(reinterpret_cast<const char*>(sig.signature.data()), sig.signature.size());
  m += sig.trusted_comment;
  return m;
}

// A signature file is four lines; a comment with a line break in it would make it five.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
  return s;
}

}  // namespace

std::uint64_t le64_load(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void le64_store(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::string key_id_hex(const KeyId& id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIX64, le64_load(id.data()));
  return buf;
}

Result<std::string_view> key_file_base64_line(std::string_view contents, const char* what) {
  auto take_line = [&contents]() {
    auto nl = contents.find('\n');
    std::string_view line = contents.substr(0, nl);
    contents = nl == std::string_view::npos ? std::string_view{} : contents.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
  };
  std::string_view comment = take_line();
  if (!comment.starts_with(kUntrustedPrefix))
    return fail(ErrorClass::usage, std::string(what) + ": first line does not start with \"untrusted comment: \"");
  std::string_view b64 = take_line();
  if (b64.empty()) return fail(ErrorClass::usage, std::string(what) + ": the key line is missing");
  if (!contents.empty()) return fail(ErrorClass::usage, std::string(what) + ": unexpected text after the key line");
  return b64;
}

Result<PublicKey> parse_public_key_base64(std::string_view line) {
  auto bytes = base64_decode_strict(line);
  if (!bytes || bytes->size() != kPublicKeyBytes)
    return fail(ErrorClass::usage, "public key \"" + std::string(line.substr(0, 80)) +
                                       "\" is not a minisign public key (base64 of 42 bytes)");
  if ((*bytes)[0] != 'E' || (*bytes)[1] != 'd')
    return fail(ErrorClass::usage, "public key has signature algorithm other than Ed25519 (\"Ed\")");
  PublicKey pk;
  std::memcpy(pk.key_id.data(), bytes->data() + 2, 8);
  std::memcpy(pk.pk.data(), bytes->data() + 10, 32);
  return pk;
}

Result<PublicKey> parse_public_key_file(std::string_view contents) {
  AIRLOCK_TRY(auto b64, key_file_base64_line(contents, "public key file"), "parsing public key file");
  return parse_public_key_base64(b64);
}

std::string public_key_base64(const PublicKey& pk) {
  std::uint8_t raw[kPublicKeyBytes];
  raw[0] = 'E';
  raw[1] = 'd';
  std::memcpy(raw + 2, pk.key_id.data(), 8);
  std::memcpy(raw + 10, pk.pk.data(), 32);
  return base64_encode(raw);
}

std::string format_public_key_file(const PublicKey& pk) {
  // Stock minisign prints the id here with "%" PRIX64: no zero padding. Matching it keeps our
  // .pub files byte-identical to minisign's for every key (the padded form is for entry names).
  std::string id = key_id_hex(pk.key_id);
  std::size_t first = id.find_first_not_of('0');
  id = first == std::string::npos ? "0" : id.substr(first);
  return std::string(kUntrustedPrefix) + "minisign public key " + id + "\n" + public_key_base64(pk) + "\n";
}

Result<Signature> parse_signature(std::string_view contents) {
  if (contents.size() > kMaxSignatureFileBytes)
    return fail(ErrorClass::not_authentic, "signature file is " + std::to_string(contents.size()) +
                                               " bytes, over the limit of " + std::to_string(kMaxSignatureFileBytes));
  if (contents.find('\r') != std::string_view::npos)
    return fail(ErrorClass::not_authentic, "signature file contains a carriage return (CRLF line endings are refused)");
  AIRLOCK_TRY(auto lines, split_lines(contents), "parsing signature");
  if (lines.size() != 4)
    return fail(ErrorClass::not_authentic, lines.size() > 4 ? "signature file has more than four lines"
                                                            : "signature file has " + std::to_string(lines.size()) +
                                                                  " lines, expected four");
  Signature sig;
  AIRLOCK_CHECK(check_comment(lines[0], kUntrustedPrefix, "untrusted comment", sig.untrusted_comment),
                "parsing signature");
  AIRLOCK_TRY(auto raw, decode_exact(lines[1], kSignatureBytes, "signature"), "parsing signature");
  std::memcpy(sig.algorithm.data(), raw.data(), 2);
  std::memcpy(sig.key_id.data(), raw.data() + 2, 8);
  std::memcpy(sig.signature.data(), raw.data() + 10, 64);
  if (raw[0] == 'E' && raw[1] == 'd')
    return fail(ErrorClass::not_authentic, "legacy (non-prehashed \"Ed\") signature refused; sign with minisign -H");
  if (raw[0] != 'E' || raw[1] != 'D')
    return fail(ErrorClass::not_authentic, "unsupported signature algorithm (expected \"ED\")");
  AIRLOCK_CHECK(check_comment(lines[2], kTrustedPrefix, "trusted comment", sig.trusted_comment), "parsing signature");
  AIRLOCK_TRY(auto global, decode_exact(lines[3], 64, "global signature"), "parsing signature");
  std::memcpy(sig.global_signature.data(), global.data(), 64);
  return sig;
}

std::string format_signature(const Signature& sig) {
  std::uint8_t raw[kSignatureBytes];
  std::memcpy(raw, sig.algorithm.data(), 2);
  std::memcpy(raw + 2, sig.key_id.data(), 8);
  std::memcpy(raw + 10, sig.signature.data(), 64);
  return std::string(kUntrustedPrefix) + sig.untrusted_comment + "\n" + base64_encode(raw) + "\n" +
         std::string(kTrustedPrefix) + sig.trusted_comment + "\n" + base64_encode(sig.global_signature) + "\n";
}

Signature sign(const SecretKey& sk, std::string_view message, std::string trusted_comment,
               std::string untrusted_comment) {
  crypto::ensure_sodium();
  Signature sig;
  sig.algorithm = {'E', 'D'};
  sig.key_id = sk.key_id;
  sig.untrusted_comment = one_line(std::move(untrusted_comment));
  sig.trusted_comment = one_line(std::move(trusted_comment));
  Blake2b512 h;
  h.update(message);
  auto digest = h.finish();
  crypto_sign_detached(sig.signature.data(), nullptr, digest.data(), digest.size(), sk.sk.data());
  auto global = signed_global(sig);
  crypto_sign_detached(sig.global_signature.data(), nullptr, reinterpret_cast<const unsigned char*>(global.data()),
                       global.size(), sk.sk.data());
  return sig;
}

bool verify(const PublicKey& pk, const Signature& sig, std::string_view message) {
  crypto::ensure_sodium();
  if (sig.algorithm[0] != 'E' || sig.algorithm[1] != 'D') return false;
  if (sig.key_id != pk.key_id) return false;
  Blake2b512 h;
  h.update(message);
  auto digest = h.finish();
  // libsodium's verify refuses small-order and non-canonical points and non-canonical S.
  if (crypto_sign_verify_detached(sig.signature.data(), digest.data(), digest.size(), pk.pk.data()) != 0)
    return false;
  auto global = signed_global(sig);
  return crypto_sign_verify_detached(sig.global_signature.data(),
                                     reinterpret_cast<const unsigned char*>(global.data()), global.size(),
                                     pk.pk.data()) == 0;
}

}  // namespace airlock::minisign
