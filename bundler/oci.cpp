#include "bundler/oci.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "bundler/propagate.hpp"
#include "core/blob/oci.hpp"
#include "core/sys/fs.hpp"

namespace airlock::bundler {

namespace {

struct Carried {
  std::string source;
  blob::BlobRole role;
  std::uint64_t size;
};

// A delta leaves out what its base's manifests reach, never a manifest: the consumer reads them
// to tell what the images need.
bool left_to_base(const DeltaBase* base, const std::string& digest, const Carried& c) {
  return base && c.role != blob::BlobRole::manifest && base->blobs.count(digest) > 0;
}

Error refused(const Recipe& r, const std::string& item, const std::string& what) {
  return Error(ErrorClass::build_refused, "recipe '" + r.path + "': " + item + ": " + what);
}
// An error met on the way, its text kept as it is (printable already: a new Error made of it would
// escape its escapes a second time).
Error refused(const Recipe& r, const std::string& item, const Error& cause) {
  return cause.reclassed(ErrorClass::build_refused).with_context("recipe '" + r.path + "': " + item);
}

// "registry/x/api:1.1.0" -> "1.1.0"; "" when the ref has no tag.
std::string tag_of(const std::string& ref) {
  const auto colon = ref.rfind(':');
  const auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "";
  return ref.substr(colon + 1);
}

// The index entry the image names: ref.name equal to the full ref, else to its tag.
Result<blob::Descriptor> find_manifest(const Recipe& r, const RecipeImage& im, const std::string& item,
                                       const std::vector<blob::Descriptor>& index) {
  const std::string tag = tag_of(im.ref);
  for (const std::string& want : {im.ref, tag}) {
    if (want.empty()) continue;
    std::vector<const blob::Descriptor*> hits;
    for (const auto& d : index) {
      auto it = d.annotations.find(blob::kRefNameAnnotation);
      if (it != d.annotations.end() && it->second == want) hits.push_back(&d);
    }
    if (hits.empty()) continue;
    for (const auto* h : hits)
      if (h->digest != hits.front()->digest)
        return fail(refused(r, item, "layout tag '" + want + "' names two different manifests"));
    return *hits.front();
  }
  std::string names;
  for (const auto& d : index)
    if (auto it = d.annotations.find(blob::kRefNameAnnotation); it != d.annotations.end())
      names += (names.empty() ? "" : ", ") + it->second;
  return fail(refused(r, item,
                      "layout '" + *im.layout + "' has no tag '" + im.ref + "'" +
                          (tag.empty() ? "" : " nor '" + tag + "'") +
                          " (its tags: " + (names.empty() ? "none" : names) + ")"));
}

// The image's root descriptor in the source layout, checked against the recipe's digest.
Result<blob::Descriptor> image_root(const Recipe& r, const RecipeImage& im, const std::string& item,
                                    const std::string& dir) {
  auto layout = read_file(dir + "/oci-layout", 4096, ErrorClass::build_refused);
  if (!layout) return fail(refused(r, item, layout.error()));
  if (auto s = blob::check_oci_layout(*layout, ErrorClass::build_refused, dir + "/oci-layout"); !s)
    return fail(refused(r, item, s.error()));
  auto text = read_file(dir + "/index.json", blob::kMaxOciJsonBytes, ErrorClass::build_refused);
  if (!text) return fail(refused(r, item, text.error()));
  auto index = blob::parse_index(*text, ErrorClass::build_refused, dir + "/index.json");
  if (!index) return fail(refused(r, item, index.error()));
  BUNDLER_TRY(blob::Descriptor root, find_manifest(r, im, item, *index));
  if (root.digest != im.digest)
    return fail(refused(r, item, "digest " + im.digest + " is not the layout's manifest " + root.digest));
  if (root.media_type.empty()) root.media_type = blob::kManifestMediaType;
  root.annotations = {{blob::kRefNameAnnotation, im.ref}};
  return root;
}

// Payload rank inside images/: oci-layout, index.json, manifests, configs, layers.
int rank_of(blob::BlobRole role) { return 2 + static_cast<int>(role); }

void add_generated(Plan& p, const std::string& name, std::string content, int rank) {
  PlannedFile f;
  f.payload_path = std::string(kImagesLayout) + "/" + name;
  f.source = "(generated " + f.payload_path + ")";
  f.content = std::move(content);
  f.image_rank = rank;
  p.files.push_back(std::move(f));
}

}  // namespace

Status plan_image_layouts(const Recipe& r, Plan& p, const DeltaBase* base) {
  std::vector<blob::Descriptor> roots;
  std::map<std::string, Carried> carried;  // digest -> first source
  for (std::size_t i = 0; i < r.images.size(); ++i) {
    const auto& im = r.images[i];
    if (!im.layout) continue;
    const std::string item = "image '" + im.ref + "'";
    const std::string dir = r.resolve(*im.layout);
    BUNDLER_TRY(blob::Descriptor root, image_root(r, im, item, dir));
    auto blobs = blob::reachable_blobs(dir, {root}, ErrorClass::build_refused);
    if (!blobs) return fail(refused(r, item, blobs.error()));
    for (const auto& b : *blobs)
      carried.try_emplace(b.digest, Carried{dir + "/blobs/sha256/" + b.digest.substr(7), b.role, b.size});
    roots.push_back(std::move(root));
    p.manifest.images[i].layout = kImagesLayout;
  }
  if (roots.empty()) return {};
  auto by_ref = [](const blob::Descriptor& a, const blob::Descriptor& b) {
    return a.annotations.at(blob::kRefNameAnnotation) < b.annotations.at(blob::kRefNameAnnotation);
  };
  std::sort(roots.begin(), roots.end(), by_ref);
  add_generated(p, "oci-layout", std::string(blob::kOciLayoutText), 0);
  add_generated(p, "index.json", blob::render_index(roots), 1);
  for (const auto& [digest, c] : carried) {
    if (left_to_base(base, digest, c)) {
      ++p.left_out_blobs;
      p.left_out_bytes += c.size;
      continue;
    }
    PlannedFile f;
    f.payload_path = std::string(kImagesLayout) + "/blobs/sha256/" + digest.substr(7);
    f.source = c.source;
    f.expect_sha256 = digest.substr(7);
    f.image_rank = rank_of(c.role);
    p.files.push_back(std::move(f));
  }
  return {};
}

bool archive_order(const PlannedFile& a, const PlannedFile& b) {
  static const std::string group = std::string(kImagesLayout) + "/";
  auto key = [](const PlannedFile& f) {
    return std::tie(f.image_rank >= 0 ? group : f.payload_path, f.image_rank, f.payload_path);
  };
  return key(a) < key(b);
}

}  // namespace airlock::bundler
