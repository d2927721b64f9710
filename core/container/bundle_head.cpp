// The head entries of spec §2, checked from the tar headers (name, size, count, order) before
// any content is read.
#include "core/container/bundle_head.hpp"

#include <string_view>

namespace airlock {

namespace {

constexpr std::string_view kSigPrefix = "signatures/";
constexpr std::string_view kSigSuffix = ".minisig";

bool is_upper_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

// The KEYID of a well-named entry, else nullopt.
std::optional<std::string> key_id_of_entry(const std::string& path) {
  if (!path.starts_with(kSigPrefix) || !path.ends_with(kSigSuffix)) return std::nullopt;
  const auto id = std::string_view(path).substr(kSigPrefix.size(), path.size() - kSigPrefix.size() - kSigSuffix.size());
  if (id.size() != 16 || !is_upper_hex(id)) return std::nullopt;
  return std::string(id);
}

Result<std::string> read_manifest_entry(TarReader& tar) {
  AIRLOCK_TRY(auto first, tar.next(), "reading entry 1");
  if (!first) return fail(ErrorClass::malformed, "the archive is empty: entry 1 must be manifest.toml");
  const auto label = entry_label(1, first->path);
  if (first->path != "manifest.toml") return fail(ErrorClass::malformed, label + ": entry 1 must be manifest.toml");
  if (first->size > kMaxManifestBytes)
    return fail(ErrorClass::malformed, label + ": " + std::to_string(first->size) + " bytes, over the limit of " +
                                           std::to_string(kMaxManifestBytes));
  return read_entry_bytes(tar, first->size, label);
}

// The bounds both modes keep: the count and the size, from the header.
Status check_bounds(const TarEntry& e, const std::string& label, std::size_t seen) {
  if (seen >= kMaxSignatureEntries)
    return fail(ErrorClass::malformed,
                label + ": more than " + std::to_string(kMaxSignatureEntries) + " signature entries");
  if (e.size > kMaxSignatureFileBytes)
    return fail(ErrorClass::malformed, label + ": " + std::to_string(e.size) + " bytes, over the limit of " +
                                           std::to_string(kMaxSignatureFileBytes));
  return {};
}

// The strict rules of §2 for one entry's header; its key id into `key_id`.
Status check_strict_header(const TarEntry& e, const std::string& label, const std::vector<HeadSignature>& seen,
                           std::string& key_id) {
  auto id = key_id_of_entry(e.path);
  if (!id)
    return fail(ErrorClass::malformed,
                label + ": not a signature entry name (want 'signatures/<KEYID>.minisig', KEYID 16 upper-case hex)");
  if (auto ok = check_bounds(e, label, seen.size()); !ok) return ok;
  if (!seen.empty()) {
    const auto prev = *key_id_of_entry(seen.back().entry);
    if (*id == prev) return fail(ErrorClass::malformed, label + ": key id " + *id + " appears twice");
    if (*id < prev)
      return fail(ErrorClass::malformed,
                  label + ": signature entries are not sorted by key id (" + *id + " after " + prev + ")");
  }
  key_id = *id;
  return {};
}

// One signature entry, its header already seen by `tar`.
Result<HeadSignature> read_signature(TarReader& tar, const TarEntry& e, const std::string& label, HeadMode mode,
                                     const std::vector<HeadSignature>& seen) {
  std::string id;
  auto header_ok =
      mode == HeadMode::strict ? check_strict_header(e, label, seen, id) : check_bounds(e, label, seen.size());
  if (!header_ok) return fail(std::move(header_ok).error());
  HeadSignature s{e.path, {}, {}, {}};
  AIRLOCK_TRY(s.text, read_entry_bytes(tar, e.size, label), "signature entries");
  auto sig = minisign::parse_signature(s.text);
  if (!sig && mode == HeadMode::lenient) {
    s.problem = sig.error().what();
    return s;
  }
  if (!sig) return fail(std::move(sig).error().with_context(label));
  const auto inner = minisign::key_id_hex(sig->key_id);
  if (mode == HeadMode::strict && inner != id)
    return fail(ErrorClass::malformed,
                label + ": the name says key id " + id + ", the signature inside is by " + inner);
  s.sig = std::move(*sig);
  return s;
}

Status read_signature_entries(TarReader& tar, HeadMode mode, BundleHead& h) {
  for (std::uint64_t number = 2;; ++number) {  // entry 1 is the manifest
    AIRLOCK_TRY(auto e, tar.next(), "reading entry " + std::to_string(number));
    if (!e || !e->path.starts_with(kSigPrefix)) {
      h.next = std::move(e);
      h.next_number = number;
      break;
    }
    auto sig = read_signature(tar, *e, entry_label(number, e->path), mode, h.signatures);
    if (!sig) return fail(std::move(sig).error());
    h.signatures.push_back(std::move(*sig));
    h.signatures_end = tar.offset();
  }
  if (h.signatures.empty() && mode == HeadMode::strict)
    return fail(ErrorClass::malformed,
                "no signature entries after manifest.toml (" +
                    (h.next ? entry_label(h.next_number, h.next->path) : std::string("end of archive")) +
                    " follows it)");
  return {};
}

}  // namespace

std::string entry_label(std::uint64_t number, const std::string& path) {
  return "entry " + std::to_string(number) + " '" + path + "'";
}

Result<std::string> read_entry_bytes(TarReader& tar, std::uint64_t size, const std::string& label) {
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t have = 0;
  while (have < out.size()) {
    AIRLOCK_TRY(auto n, tar.read(out.data() + have, out.size() - have), "reading " + label);
    if (n == 0) return fail(ErrorClass::malformed, label + ": ends early");
    have += n;
  }
  // One more read: the reader checks the entry's zero padding when it reports the end.
  char extra = 0;
  AIRLOCK_TRY(auto n, tar.read(&extra, 1), "reading " + label);
  if (n != 0) return fail(ErrorClass::internal, label + ": longer than its header says");
  return out;
}

std::vector<minisign::Signature> BundleHead::parsed_signatures() const {
  std::vector<minisign::Signature> out;
  for (const auto& s : signatures)
    if (s.sig) out.push_back(*s.sig);
  return out;
}

Result<BundleHead> read_bundle_head(TarReader& tar, HeadMode mode) {
  BundleHead h;
  AIRLOCK_TRY(h.manifest, read_manifest_entry(tar), "manifest");
  AIRLOCK_CHECK(read_signature_entries(tar, mode, h), "signatures");
  return h;
}

}  // namespace airlock
