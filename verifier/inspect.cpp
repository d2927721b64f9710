#include "verifier/inspect.hpp"

#include <algorithm>
#include <cctype>

#include "core/container.hpp"
#include "core/hash.hpp"

namespace airlock::verifier {

namespace {

constexpr std::size_t kMaxNoteBytes = 4 * 1024 * 1024;

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

}  // namespace

Result<Inspection> inspect(const std::string& bundle_path, const std::optional<std::string>& notes_lang) {
  AIRLOCK_TRY(auto src, open_source(bundle_path), "opening bundle");
  ZstdReader z(*src);
  TarReader tar(z);
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

  std::optional<TarEntry> next;
  for (;;) {
    AIRLOCK_TRY(next, tar.next(), "reading the signature entries");
    if (!next || next->path.rfind("signatures/", 0) != 0) break;
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

  if (!notes_lang || !out.manifest) return out;
  // Pick the requested language, else English.
  const Note* want = nullptr;
  for (const auto& n : out.manifest->notes)
    if (iequals(n.lang, *notes_lang)) want = &n;
  if (!want)
    for (const auto& n : out.manifest->notes)
      if (iequals(n.lang, "en")) want = &n;
  if (!want) return out;
  while (next) {
    if (next->path == want->path) {
      AIRLOCK_TRY(auto text, read_entry(tar, next->size, kMaxNoteBytes, next->path), "");
      out.notes_lang = want->lang;
      out.notes_text = std::move(text);
      break;
    }
    AIRLOCK_CHECK(tar.skip(), "skipping '" + next->path + "'");
    AIRLOCK_TRY(next, tar.next(), "reading the payload");
  }
  return out;
}

}  // namespace airlock::verifier
