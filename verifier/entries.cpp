// The head entries of spec §2: the signature entries' names, sizes, count and order are checked
// from the tar headers before any content is read, so a hostile header costs nothing.
#include "verifier/entries.hpp"

#include <string_view>

namespace airlock::verifier {

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

// Checks one signature entry's header against the rules of §2, before its content is read.
Status check_signature_header(const TarEntry& e, const std::string& label, const std::vector<SignatureEntry>& seen,
                              std::string& key_id) {
  auto id = key_id_of_entry(e.path);
  if (!id)
    return fail(ErrorClass::malformed,
                label + ": not a signature entry name (want 'signatures/<KEYID>.minisig', KEYID 16 upper-case hex)");
  if (seen.size() >= kMaxSignatureEntries)
    return fail(ErrorClass::malformed,
                label + ": more than " + std::to_string(kMaxSignatureEntries) + " signature entries");
  if (e.size > minisign::kMaxSignatureFileBytes)
    return fail(ErrorClass::malformed, label + ": " + std::to_string(e.size) + " bytes, over the limit of " +
                                           std::to_string(minisign::kMaxSignatureFileBytes));
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

Result<SignatureBlock> read_signature_entries(TarReader& tar) {
  SignatureBlock block;
  std::uint64_t number = 2;  // entry 1 is the manifest
  for (;; ++number) {
    AIRLOCK_TRY(auto e, tar.next(), "reading entry " + std::to_string(number));
    if (!e || !e->path.starts_with(kSigPrefix)) {
      block.next = std::move(e);
      block.next_number = number;
      break;
    }
    const auto label = entry_label(number, e->path);
    std::string id;
    if (auto ok = check_signature_header(*e, label, block.entries, id); !ok) return fail(std::move(ok).error());
    AIRLOCK_TRY(auto text, read_entry_bytes(tar, e->size, label), "signature entries");
    auto sig = minisign::parse_signature(text);
    if (!sig) return fail(std::move(sig).error().with_context(label));
    const auto inner = minisign::key_id_hex(sig->key_id);
    if (inner != id)
      return fail(ErrorClass::malformed,
                  label + ": the name says key id " + id + ", the signature inside is by " + inner);
    block.entries.push_back({e->path, std::move(*sig)});
  }
  if (block.entries.empty())
    return fail(ErrorClass::malformed,
                "no signature entries after manifest.toml (" +
                    (block.next ? entry_label(block.next_number, block.next->path) : std::string("end of archive")) +
                    " follows it)");
  return block;
}

}  // namespace airlock::verifier
