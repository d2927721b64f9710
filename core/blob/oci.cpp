#include "core/blob/oci.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/blob/stream.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"

namespace airlock::blob {

namespace {

using nlohmann::json;

// Propagates an error as it is: these helpers' messages already name the file.
#define OCI_TRY_IMPL(tmp, decl, expr)            \
  auto tmp = (expr);                             \
  if (!tmp) return fail(std::move(tmp).error()); \
  decl = std::move(*tmp)
#define OCI_TRY(decl, expr) OCI_TRY_IMPL(AIRLOCK_CONCAT(_oci_r_, __LINE__), decl, expr)

Result<json> parse_json(std::string_view text, ErrorClass cls, const std::string& what) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(cls, what + ": not a JSON object");
  return j;
}

Result<Descriptor> parse_descriptor(const json& j, ErrorClass cls, const std::string& what) {
  if (!j.is_object()) return fail(cls, what + ": a descriptor is not an object");
  Descriptor d;
  const auto digest = j.find("digest");
  const auto size = j.find("size");
  if (digest == j.end() || !digest->is_string() || !digest_hex(digest->get<std::string>()))
    return fail(cls, what + ": a descriptor's digest is not sha256:<64 lower-case hex>");
  if (size == j.end() || !size->is_number_unsigned())
    return fail(cls, what + ": descriptor " + digest->get<std::string>() + " has no valid size");
  d.digest = digest->get<std::string>();
  d.size = size->get<std::uint64_t>();
  if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) d.media_type = mt->get<std::string>();
  if (auto an = j.find("annotations"); an != j.end() && an->is_object())
    for (const auto& [k, v] : an->items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  return d;
}

Result<std::vector<Descriptor>> parse_array(const json& j, const char* key, ErrorClass cls, const std::string& what) {
  std::vector<Descriptor> out;
  const auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_array()) return fail(cls, what + ": `" + key + "` is not an array");
  for (const auto& e : *it) {
    OCI_TRY(auto d, parse_descriptor(e, cls, what));
    out.push_back(std::move(d));
  }
  return out;
}

json descriptor_json(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (d.media_type.empty()) j.erase("mediaType");
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace

Result<std::string> read_manifest_blob(const std::string& dir, const Descriptor& d, ErrorClass cls) {
  const std::string path = dir + "/blobs/sha256/" + d.digest.substr(kSha256Prefix.size());
  if (d.size > kMaxOciJsonBytes)
    return fail(cls, "manifest " + d.digest + " is " + std::to_string(d.size) + " bytes, over the limit of " +
                         std::to_string(kMaxOciJsonBytes));
  auto text = read_file(path, kMaxOciJsonBytes, cls);
  if (!text) return fail(text.error().reclassed(cls).with_context("manifest " + d.digest));
  if (text->size() != d.size)
    return fail(cls, "manifest '" + path + "' is " + std::to_string(text->size()) + " bytes, its descriptor says " +
                         std::to_string(d.size));
  const std::string got = digest_text(sha256(*text));
  if (got != d.digest) return fail(cls, "manifest '" + path + "' has digest " + got + ", not its name");
  return std::move(*text);
}

Status check_blob_size(const std::string& dir, const Descriptor& d, ErrorClass cls) {
  const std::string path = dir + "/blobs/sha256/" + d.digest.substr(kSha256Prefix.size());
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return fail(cls, "blob " + d.digest + " is missing from '" + dir + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(cls, "blob '" + path + "' is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) != d.size)
    return fail(cls, "blob '" + path + "' is " + std::to_string(st.st_size) + " bytes, its descriptor says " +
                         std::to_string(d.size));
  return {};
}

Status check_oci_layout(std::string_view text, ErrorClass cls, const std::string& what) {
  OCI_TRY(json j, parse_json(text, cls, what));
  const auto v = j.find("imageLayoutVersion");
  if (v == j.end() || !v->is_string() || v->get<std::string>() != "1.0.0")
    return fail(cls, what + ": imageLayoutVersion is not \"1.0.0\"");
  return {};
}

Result<std::vector<Descriptor>> parse_index(std::string_view text, ErrorClass cls, const std::string& what) {
  OCI_TRY(json j, parse_json(text, cls, what));
  return parse_array(j, "manifests", cls, what);
}

Result<Children> parse_children(std::string_view text, ErrorClass cls, const std::string& what) {
  OCI_TRY(json j, parse_json(text, cls, what));
  Children c;
  OCI_TRY(c.manifests, parse_array(j, "manifests", cls, what));
  OCI_TRY(c.layers, parse_array(j, "layers", cls, what));
  if (auto cfg = j.find("config"); cfg != j.end()) {
    OCI_TRY(auto d, parse_descriptor(*cfg, cls, what));
    c.configs.push_back(std::move(d));
  }
  return c;
}

std::string render_index(const std::vector<Descriptor>& manifests) {
  json arr = json::array();
  for (const auto& d : manifests) arr.push_back(descriptor_json(d));
  return dump_json(json{{"schemaVersion", 2}, {"manifests", arr}});
}

namespace {

// Hands each child of a parsed manifest or index to `visit` with its role, stopping at the first
// refusal: the one walk order both reachability walks share.
template <class Visit>
Status visit_children(const Children& c, Visit& visit) {
  for (const auto& m : c.manifests)
    if (auto s = visit(m, BlobRole::manifest); !s) return s;
  for (const auto& m : c.configs)
    if (auto s = visit(m, BlobRole::config); !s) return s;
  for (const auto& m : c.layers)
    if (auto s = visit(m, BlobRole::layer); !s) return s;
  return {};
}

}  // namespace

Result<std::vector<ReachableBlob>> reachable_blobs(const std::string& dir, const std::vector<Descriptor>& roots,
                                                   ErrorClass cls) {
  std::map<std::string, ReachableBlob> seen;
  std::vector<Descriptor> pending(roots.rbegin(), roots.rend());
  auto visit = [&](const Descriptor& d, BlobRole role) -> Status {
    auto [it, fresh] = seen.try_emplace(d.digest, ReachableBlob{d.digest, d.size, role});
    if (!fresh) {
      if (it->second.size != d.size)
        return fail(cls, "blob " + d.digest + " has two sizes in its descriptors in '" + dir + "'");
      return {};
    }
    if (role == BlobRole::manifest) {
      pending.push_back(d);
      return {};
    }
    return check_blob_size(dir, d, cls);
  };
  std::set<std::string> walked;
  while (!pending.empty()) {
    Descriptor d = std::move(pending.back());
    pending.pop_back();
    if (!walked.insert(d.digest).second) continue;
    seen.try_emplace(d.digest, ReachableBlob{d.digest, d.size, BlobRole::manifest});
    OCI_TRY(std::string text, read_manifest_blob(dir, d, cls));
    AIRLOCK_TRY(Children c, parse_children(text, cls, "manifest " + d.digest), "in '" + dir + "'");
    if (auto s = visit_children(c, visit); !s) return fail(s.error());
  }
  std::vector<ReachableBlob> out;
  for (auto& [_, b] : seen) out.push_back(std::move(b));
  return out;
}

namespace {

int locate(const std::vector<std::string>& dirs, const std::string& digest) {
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    struct stat st {};
    const std::string path = dirs[i] + "/blobs/sha256/" + digest.substr(kSha256Prefix.size());
    if (::lstat(path.c_str(), &st) == 0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Result<std::vector<LocatedBlob>> locate_reachable(const std::vector<std::string>& dirs,
                                                  const std::vector<Descriptor>& roots, ErrorClass cls) {
  std::map<std::string, LocatedBlob> seen;
  std::vector<Descriptor> manifests_to_read;
  auto visit = [&](const Descriptor& d, BlobRole role) -> Status {
    auto [it, fresh] = seen.try_emplace(d.digest, LocatedBlob{d.digest, d.size, role, locate(dirs, d.digest)});
    if (!fresh && it->second.size != d.size) return fail(cls, "blob " + d.digest + " has two sizes in its descriptors");
    if (fresh && role == BlobRole::manifest && it->second.dir >= 0) manifests_to_read.push_back(d);
    return {};
  };
  for (const auto& r : roots)
    if (auto s = visit(r, BlobRole::manifest); !s) return fail(s.error());
  std::set<std::string> walked;
  while (!manifests_to_read.empty()) {
    Descriptor d = std::move(manifests_to_read.back());
    manifests_to_read.pop_back();
    if (!walked.insert(d.digest).second) continue;
    const std::string& dir = dirs[static_cast<std::size_t>(seen.at(d.digest).dir)];
    OCI_TRY(std::string text, read_manifest_blob(dir, d, cls));
    AIRLOCK_TRY(Children c, parse_children(text, cls, "manifest " + d.digest), "in '" + dir + "'");
    if (auto s = visit_children(c, visit); !s) return fail(s.error());
  }
  std::vector<LocatedBlob> out;
  for (auto& [_, b] : seen) out.push_back(std::move(b));
  return out;
}

}  // namespace airlock::blob
