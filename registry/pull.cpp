// pull_bundle: the manifest judged first (ours, sizes adding up), then each layer streamed into
// OUT.partial at its offset, hashed as it is written and never past its declared size. The
// .partial of an earlier run is reused: its bytes are re-hashed, layer by layer, before anything is
// fetched, so a stale or foreign one costs a download but never lets a wrong byte through.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "core/blob/stream.hpp"
#include "core/container/container.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "registry/client_impl.hpp"
#include "registry/transfer.hpp"

namespace airlock::registry {

namespace {

// Manifest (4 MiB), 16 signatures of 4 KiB, their tar headers and frame overheads fit in this.
constexpr std::uint64_t kMaxHeadLayerBytes = 8ull * 1024 * 1024;

struct Partial {
  std::string path;
  Fd fd;
  Sha256 whole;               // of the file's bytes from 0 up to the layer being written
  std::uint64_t on_disk = 0;  // bytes the file holds
};

Status hash_region(Partial& p, std::uint64_t offset, std::uint64_t len, Sha256* layer) {
  std::vector<char> buf(1 << 20);
  FileRangeReader in(p.fd.get(), offset, len, p.path);
  for (std::uint64_t left = len; left > 0;) {
    AIRLOCK_TRY(std::size_t n, in.read(buf.data(), buf.size()), "re-reading");
    if (layer) layer->update(buf.data(), n);
    p.whole.update(buf.data(), n);
    left -= n;
  }
  return {};
}

Status pread_all(Partial& p, std::string& into) {
  FileRangeReader in(p.fd.get(), 0, into.size(), p.path);
  for (std::size_t done = 0; done < into.size();) {
    AIRLOCK_TRY(std::size_t n, in.read(into.data() + done, into.size() - done), "re-reading");
    done += n;
  }
  return {};
}

// Cuts the file back to `offset` (a layer starts over) and re-hashes what stays.
Status cut_to(Partial& p, std::uint64_t offset) {
  if (::ftruncate(p.fd.get(), static_cast<off_t>(offset)) != 0) return fail(errno_error("truncate", p.path, errno));
  p.on_disk = offset;
  p.whole = Sha256();
  return hash_region(p, 0, offset, nullptr);
}

struct LayerJob {
  Client& c;
  Partial& p;
  const Layer& l;
  std::string label;
  int attempts;
  PullResult& out;
  const TransferProgress& progress;
  std::size_t index, count;
};

// Fetches the layer from `have` on, resuming with Range after a network failure.
Status fetch_layer(LayerJob& j, Sha256& h, std::uint64_t have) {
  const Layer& l = j.l;
  BodySink sink = [&](const void* data, std::size_t n) -> Status {
    if (n > l.size - have)
      return fail(ErrorClass::integrity,
                  j.label + ": the registry sent more than its " + std::to_string(l.size) + " bytes");
    AIRLOCK_CHECK(pwrite_all(j.p.fd.get(), data, n, static_cast<off_t>(l.offset + have), j.p.path), j.label);
    h.update(data, n);
    j.p.whole.update(data, n);
    have += n;
    j.out.bytes_fetched += n;
    if (j.progress) j.progress(j.index, j.count, have, l.size);
    return {};
  };
  auto restart = [&]() -> Status {  // a 200 to a Range request: the layer from its first byte
    h = Sha256();
    have = 0;
    return cut_to(j.p, l.offset);
  };
  for (int failures = 0; have < l.size;) {
    auto r = j.c.get_blob(l.digest, have, sink, restart);
    if (r && have == l.size) break;
    // A complete answer short of the declared size is the registry's whole blob: the manifest's
    // size is wrong. A connection cut mid-body is an error here and is resumed; so is an answer
    // whose end was only its connection's close (no length told), which a cut looks like.
    if (r && r->framed)
      return fail(ErrorClass::integrity, j.label + ": the registry's blob ends after " + std::to_string(have) +
                                             " bytes where the manifest says " + std::to_string(l.size));
    if (r) {
      if (++failures >= j.attempts)
        return fail(ErrorClass::io, j.label + ": the registry's answers, without a length, end after " +
                                        std::to_string(have) + " of " + std::to_string(l.size) + " bytes");
      backoff(failures);
      continue;
    }
    if (r.error().cls() != ErrorClass::io || ++failures >= j.attempts)
      return fail(std::move(r).error().with_context(j.label));
    backoff(failures);
  }
  j.p.on_disk = std::max(j.p.on_disk, l.offset + l.size);  // later layers may be on disk already
  return {};
}

Status digest_matches(Sha256& h, const Layer& l, const std::string& label) {
  const std::string got = blob::digest_text(h.finish());
  if (got != l.digest)
    return fail(ErrorClass::integrity, label + ": digest " + got + " where the manifest says " + l.digest);
  return {};
}

// One layer: what the .partial holds of it re-hashed, the rest fetched; a mismatch in bytes that
// came from an earlier run fetches the whole layer once more.
Status pull_layer(LayerJob& j) {
  const Layer& l = j.l;
  Sha256 h;
  std::uint64_t have = 0;
  if (j.p.on_disk > l.offset) {
    have = std::min(j.p.on_disk - l.offset, l.size);
    AIRLOCK_CHECK(hash_region(j.p, l.offset, have, &h), j.label);
    j.out.bytes_reused += have;
  }
  const bool from_disk = have > 0;
  AIRLOCK_CHECK(fetch_layer(j, h, have), "fetching");
  auto ok = digest_matches(h, l, j.label);
  if (ok || !from_disk) return ok;
  AIRLOCK_CHECK(cut_to(j.p, l.offset), j.label);
  h = Sha256();
  AIRLOCK_CHECK(fetch_layer(j, h, 0), "fetching again");
  return digest_matches(h, l, j.label);
}

// The head judged on its own: layer 1 and a frame holding the tar end marker, in a file of its own
// (the head reader looks at the header after the signatures; here it finds the end).
Status check_head(Partial& p, const Layer& head, const PullRequest& req) {
  if (head.size > kMaxHeadLayerBytes)
    return fail(ErrorClass::malformed,
                "layer 1 is " + std::to_string(head.size) + " bytes, more than a bundle's head may be");
  std::string bytes(static_cast<std::size_t>(head.size), '\0');
  AIRLOCK_CHECK(pread_all(p, bytes), "reading layer 1");
  bytes += zstd_raw_frame(std::string(2 * 512, '\0'));
  const std::string file = p.path + ".head";
  AIRLOCK_CHECK(write_file_atomic(file, bytes), "the head");
  auto s = req.check_head(file);
  ::unlink(file.c_str());
  return s;
}

Status pull_layers(Client& c, Partial& p, const PullRequest& req, PullResult& out) {
  const auto& layers = out.artifact.layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    LayerJob j{c,
               p,
               layers[i],
               "layer " + std::to_string(i + 1) + " (" + layers[i].digest + ")",
               req.opts.attempts,
               out,
               req.progress,
               i + 1,
               layers.size()};
    AIRLOCK_CHECK(pull_layer(j), "pull");
    if (i == 0 && req.check_head) AIRLOCK_CHECK(check_head(p, layers[0], req), "the bundle's head");
  }
  if (p.on_disk != out.artifact.size && ::ftruncate(p.fd.get(), static_cast<off_t>(out.artifact.size)) != 0)
    return fail(errno_error("truncate", p.path, errno));
  const std::string whole = to_hex(p.whole.finish());
  if (whole != out.artifact.sha256)
    return fail(ErrorClass::integrity,
                "the bundle's sha256 is " + whole + " where the manifest says " + out.artifact.sha256);
  if (req.sha256 && whole != *req.sha256)
    return fail(ErrorClass::integrity, "the bundle's sha256 is " + whole + ", not the required " + *req.sha256);
  return {};
}

Result<Partial> open_partial(const std::string& out, std::uint64_t size) {
  Partial p;
  p.path = out + ".partial";
  p.fd = Fd(::open(p.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!p.fd.valid()) return fail(errno_error("open", p.path, errno));
  struct stat st {};
  if (::fstat(p.fd.get(), &st) != 0) return fail(errno_error("stat", p.path, errno));
  if (!S_ISREG(st.st_mode)) return fail(ErrorClass::io, "'" + p.path + "' is not a regular file");
  p.on_disk = static_cast<std::uint64_t>(st.st_size);
  if (p.on_disk > size) AIRLOCK_CHECK(cut_to(p, 0), "an oversized partial file");
  return p;
}

Status finish(Partial& p, const std::string& out) {
  if (::fsync(p.fd.get()) != 0) return fail(errno_error("fsync", p.path, errno));
  AIRLOCK_CHECK(rename_path(p.path, out), "pull");
  return fsync_dir(parent_dir(out));
}

}  // namespace

Result<PullResult> pull_bundle(const PullRequest& req) {
  PullResult out;
  AIRLOCK_TRY(auto c, Client::open(req.ref.host, req.ref.repo, req.opts), "pull");
  AIRLOCK_CHECK(c.ping(), "pull");
  AIRLOCK_TRY(auto m, c.get_manifest(req.ref.target(), std::string(kImageManifestType), kMaxArtifactManifestBytes),
              "pull " + req.ref.text());
  out.digest = m.digest;
  AIRLOCK_TRY(out.artifact, parse_artifact_manifest(m.bytes), "pull " + req.ref.text());
  if (req.sha256 && *req.sha256 != out.artifact.sha256)
    return fail(ErrorClass::integrity, "pull " + req.ref.text() + ": the artifact declares sha256 " +
                                           out.artifact.sha256 + ", not the required " + *req.sha256);
  AIRLOCK_TRY(auto p, open_partial(req.out, out.artifact.size), "pull");
  auto s = pull_layers(c, p, req, out);
  if (!s) {
    // A network failure leaves what arrived for the next run; a verdict on the bytes does not.
    const ErrorClass cls = s.error().cls();
    if (cls != ErrorClass::io && cls != ErrorClass::usage) ::unlink(p.path.c_str());
    return fail(std::move(s).error());
  }
  AIRLOCK_CHECK(finish(p, req.out), "pull");
  return out;
}

}  // namespace airlock::registry
