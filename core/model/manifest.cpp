// The value rules and cross-field rules of spec §4 (validate_manifest), shared by the parser
// and the bundler, plus the small Manifest helpers.
#include "core/model/manifest.hpp"

#include <algorithm>
#include <set>

#include "core/sys/paths.hpp"

namespace airlock {
namespace {

constexpr ErrorClass kCls = ErrorClass::malformed;

// Propagates unchanged: the messages already name the key path.
#define PASS(expr)                                                             \
  do {                                                                         \
    auto _s = (expr);                                                          \
    if (!_s) return ::tl::unexpected<::airlock::Error>(std::move(_s).error()); \
  } while (0)

std::string indexed(std::string_view key, std::size_t i) { return std::string(key) + "[" + std::to_string(i) + "]"; }
tl::unexpected<Error> bad(const std::string& where, const std::string& why) { return fail(kCls, where + ": " + why); }

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// [A-Za-z0-9._-]+
bool is_name(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}
// [a-z0-9][a-z0-9._-]{0,63}
bool is_product(std::string_view s) {
  return !s.empty() && s.size() <= 64 && lower_alnum(s[0]) &&
         std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}
bool is_sha256_hex(std::string_view s) { return s.size() == 64 && std::all_of(s.begin(), s.end(), is_hex_lower); }
// Code points of valid UTF-8 text (toml++ guarantees it for parsed text; a byte that does not
// decode comes out as 0x110000, past Unicode, which is_control refuses).
constexpr char32_t kNotUnicode = 0x110000;
std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) {
      out.push_back(kNotUnicode);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}
// Unicode general category Cc: C0, DEL and C1 (U+0085 NEL is a line break too).
bool is_control(char32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c >= kNotUnicode; }
// Unicode's mandatory line breaks (UAX #14 classes BK, CR, LF, NL).
bool is_line_break(char32_t c) {
  return (c >= 0x0A && c <= 0x0D) || c == 0x85 || c == 0x2028 || c == 0x2029 || c >= kNotUnicode;
}
// Unicode White_Space.
bool is_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool any_of_cp(std::string_view s, bool (*pred)(char32_t)) {
  const auto cps = code_points(s);
  return std::any_of(cps.begin(), cps.end(), pred);
}
// BCP 47 as the spec narrows it: [A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*
bool is_lang(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
  if (i < 2 || i > 3) return false;
  while (i < s.size()) {
    if (s[i++] != '-') return false;
    const std::size_t start = i;
    while (i < s.size() && alnum(s[i])) ++i;
    if (i - start < 2 || i - start > 8) return false;
  }
  return true;
}
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

Status check_path(const std::string& where, const std::string& path) {
  if (auto why = payload_path_problem(path)) return bad(where, "'" + path + "': " + *why);
  return {};
}

Status check_release(const Release& r) {
  if (!is_product(r.product))
    return bad("release.product", "\"" + r.product + "\" does not match [a-z0-9][a-z0-9._-]{0,63}");
  // The spec asks only for "no line breaks": Unicode's mandatory breaks. Any other character is
  // the producer's to choose; every place that shows the summary makes it printable.
  if (r.summary && any_of_cp(*r.summary, is_line_break)) return bad("release.summary", "has a line break");
  return {};
}

Status check_images(const Manifest& m) {
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    const auto& im = m.images[i];
    const auto w = indexed("images", i);
    if (im.ref.empty()) return bad(w + ".ref", "is empty");
    if (any_of_cp(im.ref, [](char32_t c) { return is_space(c) || is_control(c); }))
      return bad(w + ".ref", "has whitespace or a control character");
    if (!im.digest.starts_with("sha256:") || !is_sha256_hex(std::string_view(im.digest).substr(7)))
      return bad(w + ".digest", "\"" + im.digest + "\" is not \"sha256:\" and 64 lower-case hex digits");
    if (im.layout) PASS(check_path(w + ".layout", *im.layout));
  }
  if (m.delta_base) {
    if (auto v = parse_semver(*m.delta_base); !v) return bad("delta.base", v.error().message());
  }
  return {};
}

Status check_migrations(const Manifest& m) {
  std::set<std::string_view> ids;
  for (std::size_t i = 0; i < m.migrations.size(); ++i) {
    const auto& mg = m.migrations[i];
    const auto w = indexed("migrations", i);
    if (!is_name(mg.id)) return bad(w + ".id", "\"" + mg.id + "\" does not match [A-Za-z0-9._-]+");
    if (!ids.insert(mg.id).second) return bad(w + ".id", "\"" + mg.id + "\" appears twice");
    if (!is_name(mg.database)) return bad(w + ".database", "\"" + mg.database + "\" does not match [A-Za-z0-9._-]+");
    PASS(check_path(w + ".up", mg.up));
    if (mg.down) {
      PASS(check_path(w + ".down", *mg.down));
      continue;
    }
    // An irreversible migration pins the rollback floor to this very release.
    const auto& r = m.release;
    if (!r.rollback_to)
      return bad(w, "irreversible (no down) but release.rollback_to is not set (it must equal release.version)");
    if (compare_semver(*r.rollback_to, r.version) != 0 || r.rollback_to->build != r.version.build)
      return bad(w, "irreversible (no down) but release.rollback_to \"" + r.rollback_to->text +
                        "\" is not release.version \"" + r.version.text + "\"");
  }
  return {};
}

Status check_config_and_notes(const Manifest& m) {
  for (std::size_t i = 0; i < m.config.size(); ++i) {
    const auto w = indexed("config", i);
    if (!is_name(m.config[i].target))
      return bad(w + ".target", "\"" + m.config[i].target + "\" does not match [A-Za-z0-9._-]+");
    PASS(check_path(w + ".patch", m.config[i].patch));
  }
  if (m.trust_update) PASS(check_path("trust_update.path", *m.trust_update));
  std::set<std::string> langs;
  for (std::size_t i = 0; i < m.notes.size(); ++i) {
    const auto w = indexed("notes", i);
    if (!is_lang(m.notes[i].lang)) return bad(w + ".lang", "\"" + m.notes[i].lang + "\" is not a BCP 47 tag");
    if (!langs.insert(lower(m.notes[i].lang)).second)
      return bad(w + ".lang", "\"" + m.notes[i].lang + "\" appears twice (ignoring case)");
    PASS(check_path(w + ".path", m.notes[i].path));
  }
  if (!langs.count("en")) return bad("notes", "no entry with lang \"en\" (English notes are required)");
  return {};
}

Status check_files(const Manifest& m) {
  if (m.files.size() > kMaxFiles)
    return bad("files", std::to_string(m.files.size()) + " entries, over the limit of " + std::to_string(kMaxFiles));
  std::uint64_t total = 0;
  std::vector<std::string> paths;
  paths.reserve(m.files.size());
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const auto& f = m.files[i];
    const auto w = indexed("files", i);
    PASS(check_path(w + ".path", f.path));
    if (!is_sha256_hex(f.sha256)) return bad(w + ".sha256", "not 64 lower-case hex digits");
    // total stays <= the limit, so this subtraction cannot wrap and the sum cannot overflow.
    if (f.size > kMaxTotalPayload - total)
      return bad(w + ".size", "the sum of sizes exceeds the limit of " + std::to_string(kMaxTotalPayload) + " bytes");
    total += f.size;
    paths.push_back(f.path);
  }
  if (auto why = path_set_problem(paths)) return bad("files", *why);
  return {};
}

Status check_references(const Manifest& m) {
  std::set<std::string_view> listed;
  for (const auto& f : m.files) listed.insert(f.path);
  auto need = [&](const std::string& where, const std::string& path) -> Status {
    if (!listed.count(path)) return bad(where, "'" + path + "' is not listed in [[files]]");
    return {};
  };
  for (std::size_t i = 0; i < m.migrations.size(); ++i) {
    PASS(need(indexed("migrations", i) + ".up", m.migrations[i].up));
    if (m.migrations[i].down) PASS(need(indexed("migrations", i) + ".down", *m.migrations[i].down));
  }
  for (std::size_t i = 0; i < m.config.size(); ++i) PASS(need(indexed("config", i) + ".patch", m.config[i].patch));
  for (std::size_t i = 0; i < m.notes.size(); ++i) PASS(need(indexed("notes", i) + ".path", m.notes[i].path));
  if (m.trust_update) PASS(need("trust_update.path", *m.trust_update));
  return {};
}

// Every file under <layout>/blobs/sha256/ is named by its own SHA-256. The prefix is matched
// ignoring case: on a case-insensitive file system "Blobs/SHA256/x" lands in the same folder.
Status check_layout_blobs(const Manifest& m) {
  std::set<std::string> prefixes;
  for (const auto& im : m.images)
    if (im.layout) prefixes.insert(lower(*im.layout) + "/blobs/sha256/");
  for (std::size_t i = 0; i < m.files.size() && !prefixes.empty(); ++i) {
    const auto& f = m.files[i];
    const std::string lp = lower(f.path);
    for (const auto& p : prefixes) {
      if (!lp.starts_with(p)) continue;
      const std::string name = f.path.substr(p.size());
      if (name != f.sha256)
        return bad(indexed("files", i), "image blob '" + f.path + "' is not named by its sha256 " + f.sha256);
    }
  }
  return {};
}

}  // namespace

const char* channel_name(Channel c) {
  switch (c) {
    case Channel::recommended:
      return "recommended";
    case Channel::rc:
      return "rc";
    case Channel::beta:
      return "beta";
  }
  return "recommended";
}

std::optional<Channel> parse_channel(std::string_view s) {
  if (s == "recommended") return Channel::recommended;
  if (s == "rc") return Channel::rc;
  if (s == "beta") return Channel::beta;
  return std::nullopt;
}

const FileEntry* Manifest::find_file(std::string_view path) const {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

std::uint64_t Manifest::total_size() const {
  std::uint64_t total = 0;
  for (const auto& f : files) total = f.size > UINT64_MAX - total ? UINT64_MAX : total + f.size;  // saturating
  return total;
}

Status validate_manifest(const Manifest& m) {
  PASS(check_release(m.release));
  for (auto check :
       {check_images, check_migrations, check_config_and_notes, check_files, check_references, check_layout_blobs})
    PASS(check(m));
  return {};
}

}  // namespace airlock
