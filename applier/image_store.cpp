// The site image store (image_store.hpp). The index is a pure function of the pointer and the
// kept releases, so every writer (apply, rollback, restore, recovery, the close of a run) makes
// the same bytes, and a crash between the pointer switch and the index switch is repaired by the
// next one of them.
#include "applier/image_store.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "applier/files.hpp"
#include "applier/run.hpp"
#include "applier/staged.hpp"
#include "core/blob/oci.hpp"
#include "core/blob/store.hpp"
#include "core/model/semver.hpp"
#include "core/sys/fs.hpp"

namespace airlock::applier {

namespace fs = std::filesystem;

namespace {

inline constexpr const char* kRefAnnotation = "io.airlock.ref";

bool has_layout(const Manifest& m) {
  return std::any_of(m.images.begin(), m.images.end(), [](const ImageRef& i) { return bool(i.layout); });
}

// The descriptors of one layout's index.json.
Result<std::vector<blob::Descriptor>> read_index(const std::string& path, ErrorClass cls) {
  AIRLOCK_TRY(std::string text, read_file(path, blob::kMaxOciJsonBytes, cls), "image index");
  return blob::parse_index(text, cls, path);
}

// The roots of the manifest's images in the staged layout.
Result<std::vector<blob::Descriptor>> image_roots(const std::string& layout_dir, const Manifest& m,
                                                  const std::string& layout) {
  AIRLOCK_TRY(auto index, read_index(layout_dir + "/index.json", ErrorClass::integrity), "importing images");
  std::vector<blob::Descriptor> roots;
  for (const auto& im : m.images) {
    if (im.layout != layout) continue;
    auto it =
        std::find_if(index.begin(), index.end(), [&](const blob::Descriptor& d) { return d.digest == im.digest; });
    if (it == index.end())
      return fail(ErrorClass::integrity,
                  "image '" + im.ref + "' (" + im.digest + ") is not in " + layout + "/index.json");
    roots.push_back(*it);
  }
  return roots;
}

Status import_layout(const std::string& staging, const Manifest& m, const std::string& layout, blob::BlobStore& store) {
  const std::string prefix = layout + "/blobs/sha256/";
  for (const auto& f : m.files) {
    if (!f.path.starts_with(prefix)) continue;
    // The verifier proved the bytes against f.sha256, and the manifest's rules the name against it.
    // The carried copy replaces a stored one (a rename either way): a full bundle thereby repairs
    // a damaged store, which is what a site refused a delta for a damaged blob is told to apply.
    AIRLOCK_CHECK(store.replace(staging + "/" + f.path, "sha256:" + f.sha256), "importing images");
  }
  AIRLOCK_TRY(auto roots, image_roots(staging + "/" + layout, m, layout), "importing images");
  AIRLOCK_TRY(auto reach, blob::reachable_blobs(store.root(), roots, ErrorClass::integrity), "importing images");
  (void)reach;
  return remove_tree(staging + "/" + layout + "/blobs");
}

std::string current_release(const Site& s) {
  const std::string p = read_pointer(s.state_dir);
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Kept releases with images, newest first (SemVer precedence).
std::vector<std::string> releases_with_images(const Site& s) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s.state_dir + "/releases", ec))
    if (e.is_directory() && fs::exists(e.path() / "images/index.json")) out.push_back(e.path().filename().string());
  auto newer = [](const std::string& a, const std::string& b) {
    auto va = parse_semver(a), vb = parse_semver(b);
    if (va && vb) return compare_semver(*va, *vb) > 0;
    return a > b;
  };
  std::sort(out.begin(), out.end(), newer);
  return out;
}

Result<std::vector<blob::Descriptor>> derived_index(const Site& s) {
  const std::string current = current_release(s);
  std::vector<blob::Descriptor> tagged, others;
  for (const auto& v : releases_with_images(s)) {
    AIRLOCK_TRY(auto entries, read_index(release_dir(s, v) + "/images/index.json", ErrorClass::io),
                "release " + v + "'s images");
    for (auto d : entries) {
      std::string ref = d.annotations.count(blob::kRefNameAnnotation) ? d.annotations[blob::kRefNameAnnotation] : "";
      d.annotations = {{kReleaseAnnotation, v}, {kRefAnnotation, ref}};
      if (v == current) d.annotations[blob::kRefNameAnnotation] = ref;
      (v == current ? tagged : others).push_back(std::move(d));
    }
  }
  tagged.insert(tagged.end(), others.begin(), others.end());
  return tagged;
}

Result<std::vector<blob::Descriptor>> stored_index(const std::string& store) {
  if (!fs::exists(store + "/index.json")) return std::vector<blob::Descriptor>{};
  return read_index(store + "/index.json", ErrorClass::malformed);
}

std::set<std::string> image_layouts(const Manifest& m) {
  std::set<std::string> out;
  for (const auto& im : m.images)
    if (im.layout) out.insert(*im.layout);
  return out;
}

// A blob the payload's layout carries: the verifier proved its bytes against its name; its size
// must be the one its descriptor gives, or the image it belongs to is broken.
Status check_carried(const std::string& layout_dir, const blob::LocatedBlob& b) {
  std::error_code ec;
  const auto size = fs::file_size(layout_dir + "/blobs/sha256/" + b.digest.substr(7), ec);
  if (ec || size != b.size)
    return fail(ErrorClass::integrity, "blob " + b.digest + " in '" + layout_dir + "' is not of the size its " +
                                           "descriptor gives (" + std::to_string(b.size) + " bytes)");
  return {};
}

// A blob left to the store: there, of its descriptor's size, and its bytes its name.
std::optional<ImageProblem> stored_problem(const blob::BlobStore* store, const blob::LocatedBlob& b) {
  if (!store || b.dir < 1) return ImageProblem{b.digest, "missing from the site's image store"};
  std::error_code ec;
  if (fs::file_size(store->path_of(b.digest), ec) != b.size || ec)
    return ImageProblem{b.digest, "damaged in the site's image store (not of its descriptor's size, " +
                                      std::to_string(b.size) + " bytes)"};
  if (auto v = store->verify(b.digest); !v) return ImageProblem{b.digest, "damaged in the site's image store"};
  return std::nullopt;
}

// The needs of one layout of the payload.
Status layout_needs(const std::string& layout_dir, const std::string& layout, const Manifest& m,
                    const blob::BlobStore* store, std::vector<ImageProblem>& problems) {
  AIRLOCK_TRY(auto roots, image_roots(layout_dir, m, layout), "images of the release");
  std::vector<std::string> dirs{layout_dir};
  if (store) dirs.push_back(store->root());
  AIRLOCK_TRY(auto reach, blob::locate_reachable(dirs, roots, ErrorClass::integrity), "images of the release");
  for (const auto& b : reach) {
    if (b.dir == 0) {
      AIRLOCK_CHECK(check_carried(layout_dir, b), "images of the release");
      continue;
    }
    if (!m.delta_base)
      return fail(ErrorClass::integrity, "the bundle's " + layout + "/ layout lacks blob " + b.digest +
                                             ": a full release carries every blob its images reach "
                                             "(only a [delta] release leaves some to the site's image store)");
    if (auto p = stored_problem(store, b)) problems.push_back(std::move(*p));
  }
  return {};
}

// The stored blobs a staged release's layouts reach without carrying them (a staged delta's): gc
// must keep them, or the staged or scheduled apply would be refused later.
Status keep_staged_needs(const Site& s, const std::string& store, std::set<std::string>& keep) {
  std::error_code ec;
  for (const auto& staged : fs::directory_iterator(staged_root(s), ec)) {
    if (!staged.is_directory() || staged.path().extension() == ".partial") continue;
    for (const auto& layout : fs::directory_iterator(staged.path() / "payload", ec)) {
      const std::string dir = layout.path().string();
      if (!fs::exists(dir + "/oci-layout") || !fs::exists(dir + "/index.json")) continue;
      AIRLOCK_TRY(auto roots, read_index(dir + "/index.json", ErrorClass::integrity), "staged release");
      AIRLOCK_TRY(auto reach, blob::locate_reachable({dir, store}, roots, ErrorClass::integrity),
                  "staged release '" + dir + "'");
      for (const auto& b : reach)
        if (b.dir == 1) keep.insert(b.digest);
    }
  }
  return {};
}
}  // namespace

std::string image_store_dir(const Site& s) { return s.state_dir + "/images"; }

Status import_images(const Site& s, const std::string& staging, const Manifest& m) {
  if (!has_layout(m)) return {};
  AIRLOCK_TRY(auto store, blob::BlobStore::open(image_store_dir(s)), "importing images");
  for (const auto& l : image_layouts(m)) AIRLOCK_CHECK(import_layout(staging, m, l, store), "layout " + l);
  return {};
}

Result<std::vector<ImageProblem>> image_needs(const Site& s, const std::string& staging, const Manifest& m) {
  std::vector<ImageProblem> problems;
  std::optional<blob::BlobStore> store;
  if (fs::exists(image_store_dir(s) + "/blobs/sha256")) {
    AIRLOCK_TRY(store, blob::BlobStore::open(image_store_dir(s)), "image store");
  }
  for (const auto& l : image_layouts(m))
    AIRLOCK_CHECK(layout_needs(staging + "/" + l, l, m, store ? &*store : nullptr, problems), "layout " + l);
  return problems;
}

Status check_image_needs(const Site& s, const std::string& staging, const Manifest& m) {
  AIRLOCK_TRY(auto problems, image_needs(s, staging, m), "checking the release's images");
  if (problems.empty()) return {};
  std::string list;
  for (const auto& p : problems) list += (list.empty() ? " " : "; ") + p.digest + " " + p.what;
  return fail(ErrorClass::preflight, "release " + m.release.version.text + " is a delta (base " +
                                         m.delta_base.value_or("?") + "): " + std::to_string(problems.size()) +
                                         " image blob(s) it leaves out are not intact in the site's " +
                                         "image store '" + image_store_dir(s) + "'; apply the full bundle of " +
                                         m.release.version.text + " instead. Nothing was changed. The blobs:" + list);
}

Status sync_image_index(const Site& s) {
  const std::string store = image_store_dir(s);
  if (!fs::exists(store)) return {};
  AIRLOCK_TRY(auto entries, derived_index(s), "image store index");
  const std::string text = blob::render_index(entries);
  if (!fs::exists(store + "/oci-layout"))
    AIRLOCK_CHECK(write_file_atomic(store + "/oci-layout", std::string(blob::kOciLayoutText)), "image store");
  auto old = read_file(store + "/index.json", blob::kMaxOciJsonBytes, ErrorClass::io);
  if (old && *old == text) return {};
  return write_file_atomic(store + "/index.json", text);
}

std::string current_images_env(const Site& s) {
  auto entries = stored_index(image_store_dir(s));
  std::string out;
  if (!entries) return out;
  for (auto& d : *entries)
    if (d.annotations.count(blob::kRefNameAnnotation))
      out += (out.empty() ? "" : " ") + d.annotations[blob::kRefNameAnnotation] + "@" + d.digest;
  return out;
}

Result<ImagesGcReport> gc_image_store(const Site& s, DryRun dry_run) {
  ImagesGcReport r;
  const std::string dir = image_store_dir(s);
  if (!fs::exists(dir)) return r;
  AIRLOCK_CHECK(sync_image_index(s), "images gc");
  AIRLOCK_TRY(auto store, blob::BlobStore::open(dir), "images gc");
  AIRLOCK_TRY(auto roots, stored_index(dir), "images gc");
  // A damaged store stops gc: what it cannot read it cannot prove unneeded.
  AIRLOCK_TRY(auto reach, blob::reachable_blobs(dir, roots, ErrorClass::integrity), "images gc");
  std::set<std::string> keep;
  for (const auto& b : reach) keep.insert(b.digest);
  AIRLOCK_CHECK(keep_staged_needs(s, dir, keep), "images gc");
  AIRLOCK_TRY(auto all, store.list(), "images gc");
  for (const auto& d : all) {
    if (keep.count(d)) {
      ++r.kept;
      continue;
    }
    std::error_code ec;
    r.bytes += fs::file_size(store.path_of(d), ec);
    if (dry_run == DryRun::no) AIRLOCK_CHECK(store.remove(d), "images gc");
    r.removed.push_back(d);
  }
  return r;
}

Result<std::vector<StoredImage>> images_list(const std::string& site_toml) {
  AIRLOCK_TRY(Site s, load_site(site_toml), "images list");
  AIRLOCK_TRY(auto entries, stored_index(image_store_dir(s)), "images list");
  std::vector<StoredImage> out;
  for (auto& d : entries) {
    StoredImage i;
    i.ref = d.annotations[kRefAnnotation];
    i.digest = d.digest;
    i.release = d.annotations[kReleaseAnnotation];
    i.tagged = d.annotations.count(blob::kRefNameAnnotation) > 0;
    i.media_type = d.media_type;
    i.size = d.size;
    out.push_back(std::move(i));
  }
  return out;
}

Result<CurrentImages> current_images(const std::string& site_toml) {
  AIRLOCK_TRY(Site s, load_site(site_toml), "images");
  CurrentImages out;
  out.store = image_store_dir(s);
  AIRLOCK_TRY(auto all, images_list(site_toml), "images");
  for (auto& i : all)
    if (i.tagged) out.images.push_back(std::move(i));
  return out;
}

Result<ImagesVerifyReport> images_verify(const std::string& site_toml) {
  AIRLOCK_TRY(Site s, load_site(site_toml), "images verify");
  const std::string dir = image_store_dir(s);
  ImagesVerifyReport r;
  if (!fs::exists(dir)) return r;
  AIRLOCK_TRY(auto store, blob::BlobStore::open(dir), "images verify");
  AIRLOCK_TRY(auto roots, stored_index(dir), "images verify");
  std::set<std::string> seen;
  for (const auto& root : roots) {
    auto reach = blob::reachable_blobs(dir, {root}, ErrorClass::integrity);
    if (!reach) {
      r.problems.push_back({root.digest, reach.error().what()});
      continue;
    }
    for (const auto& b : *reach) {
      if (!seen.insert(b.digest).second) continue;
      ++r.blobs;
      if (b.role == blob::BlobRole::manifest) continue;  // hashed by the walk
      if (auto v = store.verify(b.digest); !v) r.problems.push_back({b.digest, v.error().what()});
    }
  }
  return r;
}

Result<ImagesGcReport> images_gc(const std::string& site_toml, DryRun dry_run) {
  AIRLOCK_TRY(auto o, open_site(site_toml, Env{}, nullptr), "images gc");
  return gc_image_store(o.ctx->site, dry_run);
}

}  // namespace airlock::applier
