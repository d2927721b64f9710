// verify_feed: the detached signatures of a channel feed, then the feed (spec §10, in §7's order).
#include "verifier/feed.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include "core/crypto/signature_count.hpp"
#include "core/sys/fs.hpp"
#include "verifier/trust_check.hpp"

namespace airlock::verifier {
namespace {

constexpr std::string_view kSigSuffix = ".minisig";

bool is_upper_hex16(std::string_view s) {
  return s.size() == 16 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
}

// The KEYID in "<anything>.<KEYID>.minisig", else empty.
std::string_view key_id_of_name(std::string_view name) {
  if (!name.ends_with(kSigSuffix) || name.size() < kSigSuffix.size() + 17) return {};
  const auto id = name.substr(name.size() - kSigSuffix.size() - 16, 16);
  if (name[name.size() - kSigSuffix.size() - 17] != '.' || !is_upper_hex16(id)) return {};
  return id;
}

// §5's fault table, as for a bundle's signature entries: names, count, size and a repeated key
// id are 10; the contents of one file are 11.
Result<std::vector<minisign::Signature>> parse_detached(const std::vector<DetachedSignature>& sigs) {
  if (sigs.size() > kMaxSignatureEntries)
    return fail(ErrorClass::malformed, std::to_string(sigs.size()) + " feed signature files, over the limit of " +
                                           std::to_string(kMaxSignatureEntries));
  std::vector<minisign::Signature> out;
  std::vector<std::string_view> ids;
  for (const auto& s : sigs) {
    const auto label = "feed signature '" + s.name + "'";
    const auto id = key_id_of_name(s.name);
    if (id.empty())
      return fail(ErrorClass::malformed, label +
                                             ": not a feed signature name (want 'feed.toml.<KEYID>.minisig', "
                                             "KEYID 16 upper-case hex)");
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      return fail(ErrorClass::malformed, label + ": key id " + std::string(id) + " appears twice");
    ids.push_back(id);
    if (s.text.size() > kMaxSignatureFileBytes)
      return fail(ErrorClass::malformed, label + ": " + std::to_string(s.text.size()) + " bytes, over the limit of " +
                                             std::to_string(kMaxSignatureFileBytes));
    auto sig = minisign::parse_signature(s.text);
    if (!sig) return fail(std::move(sig).error().with_context(label));
    if (minisign::key_id_hex(sig->key_id) != id)
      return fail(ErrorClass::malformed, label + ": the name says key id " + std::string(id) +
                                             ", the signature inside is by " + minisign::key_id_hex(sig->key_id));
    out.push_back(std::move(*sig));
  }
  return out;
}

}  // namespace

std::string feed_signature_name(std::string_view feed_name, const minisign::KeyId& id) {
  return std::string(feed_name) + "." + minisign::key_id_hex(id) + std::string(kSigSuffix);
}

Result<Feed> verify_feed(std::string_view bytes, const std::vector<DetachedSignature>& sigs, const TrustRoot& root,
                         const Timestamp& now, const std::vector<minisign::KeyId>& revoked) {
  AIRLOCK_TRY(auto parsed_sigs, parse_detached(sigs), "feed.toml");
  SignatureCounter counter(std::move(parsed_sigs), bytes);
  const TrustRoot trust = with_sticky_revocations(root, revoked);
  const std::array<Timestamp, 1> now_only{now};
  AIRLOCK_CHECK(require_threshold(counter.count(trust, now_only),
                                  "feed signatures at the verification time " + format_rfc3339(now)),
                "feed.toml");
  AIRLOCK_TRY(auto feed, parse_feed(bytes), "feed");
  const std::array<Timestamp, 2> both{now, feed.published};
  AIRLOCK_CHECK(require_threshold(counter.count(trust, both),
                                  "feed signatures at the verification time and at "
                                  "published " +
                                      format_rfc3339(feed.published)),
                "feed.toml");
  return feed;
}

Result<std::vector<DetachedSignature>> read_feed_signatures(const std::string& feed_path) {
  namespace fs = std::filesystem;
  const fs::path p(feed_path);
  const std::string prefix = p.filename().string() + ".";
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(kSigSuffix)) names.push_back(name);
  }
  if (ec) return fail(errno_error("listing", dir.string(), ec.value()));
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxSignatureEntries)
    return fail(ErrorClass::malformed, feed_path + ": " + std::to_string(names.size()) +
                                           " signature files beside it, over the limit of " +
                                           std::to_string(kMaxSignatureEntries));
  std::vector<DetachedSignature> out;
  for (const auto& name : names) {
    AIRLOCK_TRY(auto text, read_file((dir / name).string(), kMaxSignatureFileBytes, ErrorClass::malformed),
                "feed signature");
    out.push_back({name, std::move(text)});
  }
  return out;
}

Result<Feed> verify_feed_file(const std::string& feed_path, const TrustRoot& root, const Timestamp& now,
                              const std::vector<minisign::KeyId>& revoked) {
  AIRLOCK_TRY(auto bytes, read_file(feed_path, kMaxFeedBytes, ErrorClass::malformed), "feed");
  AIRLOCK_TRY(auto sigs, read_feed_signatures(feed_path), "feed");
  return verify_feed(bytes, sigs, root, now, revoked);
}

}  // namespace airlock::verifier
