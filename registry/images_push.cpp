// push_images (images_push.hpp): plan each image from the layout (manifests read and proved, blob
// sizes checked), then blobs, child manifests, the root under its tag, and the HEAD checks.
#include "registry/images_push.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/blob/stream.hpp"
#include "core/crypto/hash.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"

namespace airlock::registry {

namespace {

// An index nests manifests; a real image is one or two levels deep. The bound keeps a crafted
// layout from recursing without end.
constexpr int kMaxDepth = 8;
constexpr const char* kIndexMediaType = "application/vnd.oci.image.index.v1+json";
constexpr const char* kAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct ManifestItem {
  std::string digest, media_type, bytes;
};
struct BlobItem {
  std::string digest;
  std::uint64_t size = 0;
};
// What one image sends, in order: blobs, then manifests with the root last.
struct ImagePlan {
  std::vector<BlobItem> blobs;
  std::vector<ManifestItem> manifests;
  std::uint64_t blob_bytes = 0;
};

std::string blob_path(const std::string& dir, const std::string& digest) {
  return dir + "/blobs/sha256/" + digest.substr(blob::kSha256Prefix.size());
}

// A manifest of the store, checked against its descriptor (a mismatch is damage in the store).
Result<std::string> read_manifest(const std::string& dir, const blob::Descriptor& d) {
  if (!blob::digest_hex(d.digest)) return fail(ErrorClass::malformed, "descriptor digest '" + d.digest + "'");
  return blob::read_manifest_blob(dir, d, ErrorClass::integrity);
}

// The media type a registry is told: the descriptor's, else the manifest's own field.
std::string media_type_of(const blob::Descriptor& d, const std::string& bytes, bool has_children) {
  if (!d.media_type.empty()) return d.media_type;
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_object())
    if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) return mt->get<std::string>();
  return has_children ? kIndexMediaType : blob::kManifestMediaType;
}

// Children first (post-order), each manifest and blob once.
Status walk(const std::string& dir, const blob::Descriptor& d, int depth, ImagePlan& plan,
            std::set<std::string>& seen) {
  if (depth > kMaxDepth) return fail(ErrorClass::malformed, "manifest " + d.digest + ": indexes nested too deep");
  if (!seen.insert(d.digest).second) return {};
  AIRLOCK_TRY(std::string bytes, read_manifest(dir, d), "image store");
  AIRLOCK_TRY(auto children, blob::parse_children(bytes, ErrorClass::malformed, "manifest " + d.digest), "image store");
  for (const auto& m : children.manifests) AIRLOCK_CHECK(walk(dir, m, depth + 1, plan, seen), "index " + d.digest);
  for (const auto* list : {&children.configs, &children.layers}) {
    for (const auto& b : *list) {
      if (!blob::digest_hex(b.digest)) return fail(ErrorClass::malformed, "manifest " + d.digest + ": a bad digest");
      if (!seen.insert(b.digest).second) continue;
      AIRLOCK_CHECK(blob::check_blob_size(dir, b, ErrorClass::integrity), "image store");
      plan.blobs.push_back({b.digest, b.size});
      plan.blob_bytes += b.size;
    }
  }
  const bool has_children = !children.manifests.empty();
  plan.manifests.push_back({d.digest, media_type_of(d, bytes, has_children), std::move(bytes)});
  return {};
}

// A blob of the layout as the upload reads it: every byte read is hashed once, in order, whichever
// PATCH (or resumed PATCH) reads it, and the read that would hand out the last byte first proves
// the digest, so a damaged blob never reaches the registry whole.
class StreamedBlob {
 public:
  StreamedBlob(int fd, std::string path, const BlobItem& b, std::function<void(std::uint64_t)> on_bytes)
      : fd_(fd), path_(std::move(path)), b_(b), on_bytes_(std::move(on_bytes)) {}

  bool proven() const { return proven_; }

  Result<std::size_t> read_at(void* buf, std::size_t len, std::uint64_t pos) {
    const ssize_t n = ::pread(fd_, buf, len, static_cast<off_t>(pos));
    if (n < 0) return fail(errno_error("read", path_, errno));
    if (n == 0 && len > 0)
      return fail(ErrorClass::integrity, "blob '" + path_ + "' ended before its " + std::to_string(b_.size) + " bytes");
    if (auto s = absorb(static_cast<const char*>(buf), pos, static_cast<std::size_t>(n)); !s)
      return fail(std::move(s).error());  // upload_blob names the blob
    return static_cast<std::size_t>(n);
  }

 private:
  Status absorb(const char* data, std::uint64_t pos, std::size_t n) {
    if (pos > hashed_) {
      AIRLOCK_CHECK(hash_gap(pos), "hashing");
    }
    if (pos + n > hashed_) {
      const std::uint64_t skip = hashed_ - pos;
      h_.update(data + skip, static_cast<std::size_t>(n - skip));
      hashed_ = pos + n;
      if (on_bytes_) on_bytes_(hashed_);
    }
    if (hashed_ == b_.size && !proven_) {
      const std::string got = blob::digest_text(h_.finish());
      if (got != b_.digest)
        return fail(ErrorClass::integrity, "'" + path_ + "' has digest " + got + ", not its name: damaged in the " +
                                               "image store; nothing of this image's manifests was pushed");
      proven_ = true;
    }
    return {};
  }
  // Bytes the registry acknowledged without this process having read them cannot be: hashing them
  // here keeps the proof whole all the same.
  Status hash_gap(std::uint64_t to) {
    char buf[64 * 1024];
    while (hashed_ < to) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, to - hashed_));
      const ssize_t n = ::pread(fd_, buf, want, static_cast<off_t>(hashed_));
      if (n <= 0) return fail(ErrorClass::integrity, "blob '" + path_ + "' could not be read whole");
      h_.update(buf, static_cast<std::size_t>(n));
      hashed_ += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  int fd_;
  std::string path_;
  BlobItem b_;
  std::function<void(std::uint64_t)> on_bytes_;
  Sha256 h_;
  std::uint64_t hashed_ = 0;
  bool proven_ = false;
};

class StreamedRange final : public blob::Reader {
 public:
  StreamedRange(StreamedBlob& b, std::uint64_t offset, std::uint64_t len) : b_(b), pos_(offset), left_(len) {}
  [[nodiscard]] Result<std::size_t> read(void* buf, std::size_t len) override {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len, left_));
    if (want == 0) return std::size_t{0};
    auto r = b_.read_at(buf, want, pos_);
    if (!r) return r;
    const std::size_t n = *r;
    pos_ += n;
    left_ -= n;
    return n;
  }

 private:
  StreamedBlob& b_;
  std::uint64_t pos_, left_;
};

// The state of one run: which repository already holds which blob (for mounts).
struct Run {
  const std::string& dir;
  std::map<std::string, std::string> placed;  // digest -> a repository of this registry holding it
  const ImagesProgress& progress;
};

Status upload(Client& c, Run& run, const BlobItem& b, const std::string& ref, std::uint64_t base, std::uint64_t total) {
  const std::string path = blob_path(run.dir, b.digest);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno).reclassed(ErrorClass::integrity));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != b.size)
    return fail(ErrorClass::integrity,
                "blob '" + path + "' is not of its descriptor's size (" + std::to_string(b.size) + " bytes)");
  if (b.size == 0 && blob::digest_text(sha256("")) != b.digest)
    return fail(ErrorClass::integrity, "blob '" + path + "' is empty, its name is not the empty digest");
  StreamedBlob sb(fd.get(), path, b, [&](std::uint64_t done) {
    if (run.progress) run.progress(ref, base + done, total);
  });
  OpenRange open = [&](std::uint64_t off, std::uint64_t len) -> Result<std::unique_ptr<blob::Reader>> {
    return std::make_unique<StreamedRange>(sb, off, len);
  };
  AIRLOCK_CHECK(c.upload_blob(b.digest, b.size, open), "uploading");
  if (b.size > 0 && !sb.proven())
    return fail(ErrorClass::internal, "blob " + b.digest + " was uploaded without every byte read");
  return {};
}

Status send_blobs(Client& c, Run& run, const ImagePlan& plan, ImagePushResult& out) {
  std::uint64_t done = 0;
  for (const auto& b : plan.blobs) {
    AIRLOCK_TRY(auto have, c.blob_size(b.digest), "checking blob " + b.digest);
    if (have && *have == b.size) {
      ++out.blobs_skipped;
    } else {
      bool mounted = false;
      if (auto it = run.placed.find(b.digest); it != run.placed.end() && it->second != c.repo()) {
        AIRLOCK_TRY(mounted, c.mount_blob(b.digest, it->second), "mounting from " + it->second);
      }
      if (mounted) {
        ++out.blobs_mounted;
      } else {
        AIRLOCK_CHECK(upload(c, run, b, out.ref, done, plan.blob_bytes), "pushing blobs");
        ++out.blobs_uploaded;
        out.bytes_uploaded += b.size;
      }
    }
    run.placed.try_emplace(b.digest, c.repo());
    done += b.size;
    if (run.progress) run.progress(out.ref, done, plan.blob_bytes);
  }
  return {};
}

Status send_manifests(Client& c, const ImagePlan& plan, const ImageTarget& t, ImagePushResult& out) {
  for (std::size_t i = 0; i + 1 < plan.manifests.size(); ++i) {
    const auto& m = plan.manifests[i];
    AIRLOCK_TRY(auto have, c.manifest_digest(m.digest, kAccept), "child manifest " + m.digest);
    if (have) continue;
    AIRLOCK_TRY(auto put, c.put_manifest(m.digest, m.media_type, m.bytes), "child manifest " + m.digest);
    (void)put;
    ++out.manifests_pushed;
  }
  const auto& root = plan.manifests.back();
  AIRLOCK_TRY(auto put, c.put_manifest(t.tag.empty() ? root.digest : t.tag, root.media_type, root.bytes), "manifest");
  (void)put;
  ++out.manifests_pushed;
  for (const std::string& target : {root.digest, t.tag}) {
    if (target.empty()) continue;
    AIRLOCK_TRY(auto got, c.manifest_digest(target, kAccept), "checking " + target);
    if (!got || *got != root.digest)
      return fail(ErrorClass::integrity, "after the push, '" + out.target + "' answers " + target + " with digest '" +
                                             got.value_or("(none)") + "', not " + root.digest);
  }
  return {};
}

Status push_one(Run& run, const ImageToPush& im, const ImageTarget& t, const RegistryRoot& root,
                const ClientOptions& opts, ImagePushResult& out) {
  ImagePlan plan;
  std::set<std::string> seen;
  AIRLOCK_CHECK(walk(run.dir, im.root, 0, plan, seen), "image '" + im.ref + "'");
  AIRLOCK_TRY(auto c, Client::open(root.host, t.repo, opts), "image '" + im.ref + "'");
  AIRLOCK_CHECK(c.ping(), "image '" + im.ref + "'");
  AIRLOCK_CHECK(send_blobs(c, run, plan, out), "image '" + im.ref + "' to " + out.target);
  AIRLOCK_CHECK(send_manifests(c, plan, t, out), "image '" + im.ref + "' to " + out.target);
  return {};
}

bool is_domain(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos || first == "localhost";
}

}  // namespace

Result<ImageTarget> map_image_ref(const std::string& ref, const std::string& prefix) {
  std::string name = ref.substr(0, ref.find('@'));
  ImageTarget t;
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    t.tag = name.substr(colon + 1);
    name.resize(colon);
  }
  std::string domain;
  if (const auto first = name.find('/'); first != std::string::npos && is_domain(name.substr(0, first))) {
    domain = name.substr(0, first);
    name = name.substr(first + 1);
  }
  // containerd asks a Docker Hub mirror for library/nginx when the ref says nginx.
  if ((domain.empty() || domain == "docker.io" || domain == "index.docker.io") && name.find('/') == std::string::npos)
    name = "library/" + name;
  t.repo = prefix.empty() ? name : prefix + "/" + name;
  if (!valid_repository(t.repo))
    return fail(ErrorClass::malformed, "image ref '" + ref + "' names no valid repository ('" + t.repo + "')");
  if (!t.tag.empty() && !valid_tag(t.tag))
    return fail(ErrorClass::malformed, "image ref '" + ref + "' has a tag that is not valid: '" + t.tag + "'");
  if (t.tag.empty() && ref.find('@') == std::string::npos)
    t.tag = "latest";  // what a runtime asks for when the ref names no tag
  return t;
}

Result<std::vector<ImagePushResult>> push_images(const std::string& layout_dir, const std::vector<ImageToPush>& images,
                                                 const RegistryRoot& root, ClientOptions opts,
                                                 const ImagesProgress& progress) {
  opts.access = Access::push;
  std::vector<ImageTarget> targets;
  std::map<std::string, std::pair<std::string, std::string>> by_target;  // target -> digest, ref
  std::vector<ImagePushResult> out;
  for (const auto& im : images) {
    AIRLOCK_TRY(auto t, map_image_ref(im.ref, root.prefix), "images push");
    // A ref pinned by digest names the image itself: one the store's root is not is not this image.
    if (const auto at = im.ref.find('@'); at != std::string::npos && im.ref.substr(at + 1) != im.root.digest)
      return fail(ErrorClass::malformed, "images push: '" + im.ref + "' is pinned to another digest than its image " +
                                             im.root.digest);
    ImagePushResult r;
    r.ref = im.ref;
    r.digest = im.root.digest;
    r.target = root.host + "/" + t.repo + (t.tag.empty() ? "@" + im.root.digest : ":" + t.tag);
    auto [it, fresh] = by_target.try_emplace(r.target, im.root.digest, im.ref);
    if (!fresh && it->second.first != im.root.digest)
      return fail(ErrorClass::usage, "images '" + it->second.second + "' and '" + im.ref + "' would both be " +
                                         r.target + " (the registry host of a ref is not kept): push them under " +
                                         "different prefixes");
    targets.push_back(std::move(t));
    out.push_back(std::move(r));
  }
  if (images.empty()) return out;
  {
    AIRLOCK_TRY(auto c, Client::open(root.host, targets.front().repo, opts), "images push");
    AIRLOCK_CHECK(c.ping(), "images push");
  }
  Run run{layout_dir, {}, progress};
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (auto s = push_one(run, images[i], targets[i], root, opts, out[i]); !s) out[i].error = std::move(s).error();
  }
  return out;
}

}  // namespace airlock::registry
