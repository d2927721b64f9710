// push_bundle: hash every layer first, then per layer HEAD (present: skipped) else a chunked
// upload, then the empty config, then the manifest under its tag, last.
#include <fcntl.h>

#include "core/blob/stream.hpp"
#include "core/sys/fd.hpp"
#include "registry/transfer.hpp"

namespace airlock::registry {

namespace {

Status ensure_blob(Client& c, const std::string& digest, std::uint64_t size, const OpenRange& open, PushResult& out) {
  AIRLOCK_TRY(auto have, c.blob_size(digest), "checking blob " + digest);
  if (have && *have == size) return {};
  AIRLOCK_CHECK(c.upload_blob(digest, size, open), "uploading");
  ++out.layers_uploaded;
  out.bytes_uploaded += size;
  return {};
}

}  // namespace

Result<PushResult> push_bundle(const std::string& path, const Reference& ref, ClientOptions opts, std::uint64_t chunk,
                               const TransferProgress& progress) {
  if (ref.tag.empty()) return fail(ErrorClass::usage, "push needs a tag: " + ref.text());
  PushResult out;
  AIRLOCK_TRY(out.artifact, describe_bundle(path, chunk), "push");
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", path, errno));
  opts.access = Access::push;
  AIRLOCK_TRY(auto c, Client::open(ref.host, ref.repo, std::move(opts)), "push");
  AIRLOCK_CHECK(c.ping(), "push");
  const auto& layers = out.artifact.layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    if (progress) progress(i + 1, layers.size(), 0, l.size);
    OpenRange open = [&](std::uint64_t off, std::uint64_t len) -> Result<std::unique_ptr<blob::Reader>> {
      return std::make_unique<FileRangeReader>(fd.get(), l.offset + off, len, path);
    };
    AIRLOCK_CHECK(ensure_blob(c, l.digest, l.size, open, out), "layer " + std::to_string(i + 1));
    if (progress) progress(i + 1, layers.size(), l.size, l.size);
  }
  OpenRange config = [](std::uint64_t off, std::uint64_t len) -> Result<std::unique_ptr<blob::Reader>> {
    return std::make_unique<StringReader>(kEmptyConfig.substr(off, len));
  };
  PushResult ignored;
  AIRLOCK_CHECK(ensure_blob(c, empty_config_digest(), kEmptyConfig.size(), config, ignored), "config");
  AIRLOCK_TRY(out.digest, c.put_manifest(ref.tag, std::string(kImageManifestType), render_manifest(out.artifact)),
              "push");
  return out;
}

}  // namespace airlock::registry
