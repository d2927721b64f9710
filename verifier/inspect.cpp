#include "verifier/inspect.hpp"

#include <algorithm>
#include <cctype>

#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/crypto/hash.hpp"

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

Result<std::string> read_note(TarReader& tar, std::uint64_t size, const std::string& name) {
  const std::string label = "entry '" + name + "'";
  if (size > kMaxNoteBytes)
    return fail(ErrorClass::malformed,
                label + " is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(kMaxNoteBytes));
  return read_entry_bytes(tar, size, label);
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
      auto text = read_note(tar, next->size, next->path);
      if (!text) return fail(std::move(text).error());
      out.notes_lang = want.lang;
      out.notes_text = std::move(*text);
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

InspectedSignature inspected(const HeadSignature& h) {
  InspectedSignature s;
  s.entry = h.entry;
  s.well_formed = h.sig.has_value();
  if (h.sig) {
    s.key_id = minisign::key_id_hex(h.sig->key_id);
    s.trusted_comment = h.sig->trusted_comment;
  }
  s.problem = h.problem;
  return s;
}

// The head as it is declared: a manifest that does not parse and a signature that does not are
// shown with their problems; only what keeps inspect bounded (core/container/bundle_head.hpp) refuses.
Result<Inspection> read_head(TarReader& tar, std::optional<TarEntry>& next) {
  auto head = read_bundle_head(tar, HeadMode::lenient);
  if (!head) return fail(std::move(head).error());
  Inspection out;
  out.manifest_text = std::move(head->manifest);
  out.manifest_sha256 = to_hex(sha256(out.manifest_text));
  auto m = parse_manifest(out.manifest_text);
  if (m)
    out.manifest = std::move(*m);
  else
    out.manifest_problem = m.error().what();
  for (const auto& s : head->signatures) out.signatures.push_back(inspected(s));
  next = std::move(head->next);
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
