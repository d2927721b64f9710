#include "verifier/inspect.hpp"

#include <algorithm>
#include <cctype>

#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"
#include "verifier/entries.hpp"

namespace airlock::verifier {

namespace {

constexpr std::size_t kMaxNoteBytes = 4 * 1024 * 1024;
// What inspect inflates on its way to a note: at most kSkipFloorBytes plus kSkipRatio times the
// compressed bytes it has taken. A real payload (images, databases) compresses far less than 32:1,
// so a large release still shows its note; a compression bomb ahead of the note (zeros inflate
// 30,000:1) is given up on once inspect has inflated 32 times what it read.
constexpr std::uint64_t kSkipFloorBytes = 64ull << 20;
constexpr std::uint64_t kSkipRatio = 32;
constexpr std::size_t kSkipStep = std::size_t{1} << 20;

bool within_budget(const ZstdReader& z) {
  return z.decompressed_bytes() <= kSkipFloorBytes + kSkipRatio * z.input_bytes();
}

// Reads the current entry to its end, discarding it, while the budget holds; false once it ran out.
Result<bool> skip_within_budget(TarReader& tar, const ZstdReader& z) {
  for (;;) {
    if (!within_budget(z)) return false;
    auto v = tar.read_view(kSkipStep);
    if (!v) return fail(std::move(v).error());
    if (v->len == 0) return true;
  }
}

std::string over_budget(const std::string& path, const ZstdReader& z) {
  return "not shown: '" + path + "' lies beyond " + std::to_string(z.decompressed_bytes()) +
         " decompressed bytes from " + std::to_string(z.input_bytes()) +
         " compressed ones, more than inspect inflates (64 MiB plus 32 times the compressed bytes)";
}

Result<std::string> read_entry(TarReader& tar, std::uint64_t size, std::size_t limit, const std::string& name) {
  if (size > limit)
    return fail(ErrorClass::malformed, "entry '" + name + "' is " + std::to_string(size) +
                                           " bytes, over the limit of " + std::to_string(limit));
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t have = 0;
  while (have < out.size()) {
    AIRLOCK_TRY(auto n, tar.read(out.data() + have, out.size() - have), "reading '" + name + "'");
    if (n == 0) return fail(ErrorClass::malformed, "entry '" + name + "' ends early");
    have += n;
  }
  char extra;
  AIRLOCK_TRY(auto n, tar.read(&extra, 1), "reading '" + name + "'");
  if (n != 0) return fail(ErrorClass::internal, "entry '" + name + "' longer than its header says");
  return out;
}

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Reads on from `next` to the note `want` (its text into `out`), skipping what comes before it
// within the budget; the archive is read no further than the note.
Status find_note(TarReader& tar, const ZstdReader& z, std::optional<TarEntry> next, const Note& want, Inspection& out) {
  while (next) {
    if (next->path == want.path) {
      AIRLOCK_TRY(auto text, read_entry(tar, next->size, kMaxNoteBytes, next->path), "");
      out.notes_lang = want.lang;
      out.notes_text = std::move(text);
      return {};
    }
    AIRLOCK_TRY(const bool skipped, skip_within_budget(tar, z), "skipping '" + next->path + "'");
    if (!skipped || !within_budget(z)) {
      out.notes_problem = over_budget(want.path, z);
      return {};
    }
    AIRLOCK_TRY(next, tar.next(), "reading the payload");
  }
  out.notes_problem = "not shown: '" + want.path + "' is not in the archive";
  return {};
}

Result<Inspection> read_head(TarReader& tar, std::optional<TarEntry>& next) {
  Inspection out;

  AIRLOCK_TRY(auto first, tar.next(), "reading the first entry");
  if (!first || first->path != "manifest.toml")
    return fail(ErrorClass::malformed,
                "the first entry is not manifest.toml" + (first ? " but '" + first->path + "'" : std::string()));
  AIRLOCK_TRY(out.manifest_text, read_entry(tar, first->size, kMaxManifestBytes, "manifest.toml"), "");
  out.manifest_sha256 = to_hex(sha256(out.manifest_text));
  auto m = parse_manifest(out.manifest_text);
  if (m)
    out.manifest = std::move(*m);
  else
    out.manifest_problem = m.error().what();

  for (;;) {
    AIRLOCK_TRY(next, tar.next(), "reading the signature entries");
    if (!next || next->path.rfind("signatures/", 0) != 0) break;
    if (out.signatures.size() == kMaxSignatureEntries)
      return fail(ErrorClass::malformed, "more than " + std::to_string(kMaxSignatureEntries) + " signature entries");
    InspectedSignature s;
    s.entry = next->path;
    AIRLOCK_TRY(auto text, read_entry(tar, next->size, minisign::kMaxSignatureFileBytes, next->path), "");
    auto sig = minisign::parse_signature(text);
    if (sig) {
      s.well_formed = true;
      s.key_id = minisign::key_id_hex(sig->key_id);
      s.trusted_comment = sig->trusted_comment;
    } else {
      s.problem = sig.error().what();
    }
    out.signatures.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<Inspection> inspect(const std::string& bundle_path, const std::optional<std::string>& notes_lang) {
  AIRLOCK_TRY(auto src, open_source(bundle_path), "opening bundle");
  ZstdReader z(*src);
  TarReader tar(z);
  std::optional<TarEntry> next;
  auto head = read_head(tar, next);
  if (!head) return head;
  Inspection out = std::move(*head);
  out.decompressed_bytes = z.decompressed_bytes();
  if (!notes_lang || !out.manifest) return out;
  // Pick the requested language, else English.
  const Note* want = nullptr;
  for (const auto& n : out.manifest->notes)
    if (iequals(n.lang, *notes_lang)) want = &n;
  if (!want)
    for (const auto& n : out.manifest->notes)
      if (iequals(n.lang, "en")) want = &n;
  if (!want) return out;
  AIRLOCK_CHECK(find_note(tar, z, std::move(next), *want, out), "release notes");
  out.decompressed_bytes = z.decompressed_bytes();
  return out;
}

}  // namespace airlock::verifier
