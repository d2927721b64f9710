#include "registry/artifact.hpp"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/blob/stream.hpp"
#include "core/container/bundle_head.hpp"
#include "core/container/container.hpp"
#include "core/json_text.hpp"
#include "core/model/manifest.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/time.hpp"

namespace airlock::registry {

namespace {

using nlohmann::json;

Error not_ours(const std::string& why) {
  return Error(ErrorClass::malformed, "not an airlock bundle artifact: " + why);
}

Result<BundleHead> read_head(const std::string& path, std::uint64_t& frames_end) {
  AIRLOCK_TRY(auto src, open_source(path), "bundle '" + path + "'");
  ZstdReader z(*src);
  TarReader tar(z);
  AIRLOCK_TRY(auto head, read_bundle_head(tar, HeadMode::lenient), "bundle '" + path + "'");
  AIRLOCK_TRY(auto src2, open_source(path), "bundle '" + path + "'");
  ZstdReader z2(*src2);
  std::vector<char> buf(64 * 1024);
  for (std::uint64_t left = head.signatures_end; left > 0;) {
    AIRLOCK_TRY(std::size_t n, z2.read(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()))),
                "bundle '" + path + "'");
    if (n == 0) return fail(ErrorClass::malformed, "bundle '" + path + "': ends inside its head");
    left -= n;
  }
  if (!z2.at_frame_end())
    return fail(ErrorClass::malformed, "bundle '" + path + "': manifest and signatures are not in frames of their own");
  frames_end = z2.compressed_offset_of_frame_end();
  return head;
}

Status hash_layers(const std::string& path, BundleArtifact& a) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  blob::FdReader file(fd.get(), path);
  Sha256 whole;
  std::vector<char> buf(1 << 20);
  for (auto& l : a.layers) {
    Sha256 h;
    for (std::uint64_t left = l.size; left > 0;) {
      AIRLOCK_TRY(std::size_t n,
                  file.read(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()))),
                  "hashing");
      if (n == 0) return fail(ErrorClass::io, "bundle '" + path + "' became shorter while it was read");
      h.update(buf.data(), n);
      whole.update(buf.data(), n);
      left -= n;
    }
    l.digest = blob::digest_text(h.finish());
  }
  a.sha256 = to_hex(whole.finish());
  return {};
}

std::uint64_t json_size(const json& v) { return v.is_number_unsigned() ? v.get<std::uint64_t>() : ~std::uint64_t{0}; }

}  // namespace

Result<std::uint64_t> head_frames_end(const std::string& path) {
  std::uint64_t end = 0;
  AIRLOCK_TRY(auto head, read_head(path, end), "reading the head");
  return end;
}

Result<BundleArtifact> describe_bundle(const std::string& path, std::uint64_t chunk) {
  if (chunk == 0) return fail(ErrorClass::usage, "--chunk must be at least 1 byte");
  std::uint64_t head_end = 0;
  AIRLOCK_TRY(auto head, read_head(path, head_end), "reading the head");
  AIRLOCK_TRY(auto m, parse_manifest(head.manifest), "bundle '" + path + "': manifest.toml");
  BundleArtifact a;
  a.version = m.release.version.text;
  a.name = m.release.product + "-" + a.version + ".tar.zst";
  a.created = format_rfc3339(m.release.created);
  a.chunk = chunk;
  std::error_code ec;
  a.size = std::filesystem::file_size(path, ec);
  if (ec) return fail(ErrorClass::io, "bundle '" + path + "': " + ec.message());
  a.layers.push_back({0, head_end, ""});
  for (std::uint64_t off = head_end; off < a.size; off += chunk) {
    a.layers.push_back({off, std::min(chunk, a.size - off), ""});
    if (a.layers.size() > kMaxLayers)
      return fail(ErrorClass::usage, "bundle '" + path + "': more than 9999 layers of --chunk " +
                                         std::to_string(chunk) + " bytes; choose a larger chunk");
  }
  AIRLOCK_CHECK(hash_layers(path, a), "bundle '" + path + "'");
  return a;
}

std::string empty_config_digest() { return blob::digest_text(sha256(kEmptyConfig)); }

std::string render_manifest(const BundleArtifact& a) {
  json layers = json::array();
  for (std::size_t i = 0; i < a.layers.size(); ++i)
    layers.push_back({{"mediaType", kLayerMediaType},
                      {"digest", a.layers[i].digest},
                      {"size", a.layers[i].size},
                      {"annotations", {{kAnnName, part_name(a.name, static_cast<unsigned>(i + 1))}}}});
  json m = {
      {"schemaVersion", 2},
      {"mediaType", kImageManifestType},
      {"artifactType", kArtifactType},
      {"config", {{"mediaType", kEmptyConfigType}, {"digest", empty_config_digest()}, {"size", kEmptyConfig.size()}}},
      {"layers", layers},
      {"annotations",
       {{kAnnName, a.name},
        {kAnnVersion, a.version},
        {kAnnCreated, a.created},
        {kAnnSha256, a.sha256},
        {kAnnSize, std::to_string(a.size)},
        {kAnnChunk, std::to_string(a.chunk)}}}};
  return dump_json(m);
}

Result<BundleArtifact> parse_artifact_manifest(std::string_view bytes) {
  if (bytes.size() > kMaxArtifactManifestBytes) return fail(not_ours("manifest over 4 MiB"));
  auto m = json::parse(bytes, nullptr, false);
  if (m.is_discarded() || !m.is_object()) return fail(not_ours("the manifest is not a JSON object"));
  auto text = [&](const json& o, const char* key) -> std::string {
    return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
  };
  if (text(m, "mediaType") != kImageManifestType) return fail(not_ours("mediaType is '" + text(m, "mediaType") + "'"));
  if (text(m, "artifactType") != kArtifactType)
    return fail(not_ours("artifactType is '" + text(m, "artifactType") + "'"));
  const json& ann = m.contains("annotations") ? m["annotations"] : json();
  BundleArtifact a;
  a.name = text(ann, kAnnName);
  a.version = text(ann, kAnnVersion);
  a.created = text(ann, kAnnCreated);
  a.sha256 = text(ann, kAnnSha256);
  if (!is_lower_hex(a.sha256, 64)) return fail(not_ours("no whole-file sha256 annotation"));
  const std::string size = text(ann, kAnnSize);
  if (size.empty() || size.size() > 19 || !std::all_of(size.begin(), size.end(), ::isdigit))
    return fail(not_ours("no size annotation"));
  a.size = std::stoull(size);
  if (!m.contains("layers") || !m["layers"].is_array() || m["layers"].empty()) return fail(not_ours("no layers"));
  if (m["layers"].size() > kMaxLayers)
    return fail(not_ours(std::to_string(m["layers"].size()) + " layers (at most 9999)"));
  std::uint64_t offset = 0;
  for (const auto& l : m["layers"]) {
    Layer layer{offset, l.is_object() && l.contains("size") ? json_size(l["size"]) : ~std::uint64_t{0},
                text(l, "digest")};
    if (!blob::digest_hex(layer.digest)) return fail(not_ours("a layer's digest is not sha256:<hex>"));
    if (layer.size > a.size - offset) return fail(not_ours("the layer sizes add up to more than the declared size"));
    offset += layer.size;
    a.layers.push_back(std::move(layer));
  }
  if (offset != a.size) return fail(not_ours("the layer sizes add up to " + std::to_string(offset) + ", not " + size));
  return a;
}

}  // namespace airlock::registry
