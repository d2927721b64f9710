#include "registry/client.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "registry/auth.hpp"
#include "registry/client_impl.hpp"

namespace airlock::registry {

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;
const std::string& Client::repo() const { return impl_->repo; }

Result<Client> Client::open(const std::string& host, const std::string& repo, ClientOptions opts) {
  AIRLOCK_TRY(auto http, Http::create(opts.tls), "registry client");
  auto impl = std::make_unique<Impl>(Impl{std::move(http), host, repo, "", std::move(opts), "", {}});
  impl->base = (impl->opts.tls.plain_http ? "http://" : "https://") + host;
  return Client(std::move(impl));
}

Status Client::ping() {
  HttpRequest req;
  req.url = impl_->base + "/v2/";
  AIRLOCK_TRY(auto r, impl_->send(req), "registry '" + impl_->host + "'");
  if (r.status != 200) return fail(impl_->http_error("GET /v2/", r));
  return {};
}

Result<std::optional<std::uint64_t>> Client::blob_size(const std::string& digest) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = impl_->url("/blobs/" + digest);
  AIRLOCK_TRY(auto r, impl_->send(req), "blob " + digest);
  if (r.status == 404) return std::optional<std::uint64_t>();
  if (r.status != 200) return fail(impl_->http_error("HEAD blob " + digest, r));
  const std::string len = r.header("content-length");
  std::uint64_t n = 0;
  for (char c : len) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10)
      return fail(ErrorClass::io, "blob " + digest + ": bad Content-Length");
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return std::optional<std::uint64_t>(n);
}

Result<BlobAnswer> Client::get_blob(const std::string& digest, std::uint64_t offset, const BodySink& sink,
                                     const std::function<Status()>& restart) {
  HttpRequest req;
  req.url = impl_->url("/blobs/" + digest);
  req.sink = sink;
  req.on_start = [&](long status) -> Status {
    if (offset > 0 && status == 200) return restart();
    if (offset > 0 && status == 416)
      return fail(ErrorClass::integrity, "blob " + digest + ": the registry says it ends before byte " +
                                             std::to_string(offset));
    if (offset > 0 && status != 206)
      return fail(ErrorClass::io, "blob " + digest + ": HTTP " + std::to_string(status) + " to a Range request");
    return {};
  };
  if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
  AIRLOCK_TRY(auto r, impl_->exchange(req), "blob " + digest);
  const bool framed =
      !r.header("content-length").empty() || r.header("transfer-encoding").find("chunked") != std::string::npos;
  if (r.status == 206 && offset > 0) return BlobAnswer{RangeAnswer::honoured, framed};
  if (r.status == 200) return BlobAnswer{offset > 0 ? RangeAnswer::whole_blob : RangeAnswer::honoured, framed};
  return fail(impl_->http_error("GET blob " + digest, r));
}

Result<bool> Client::mount_blob(const std::string& digest, const std::string& from_repo) {
  HttpRequest req;
  req.method = "POST";
  req.url = impl_->url("/blobs/uploads/?mount=" + url_escape(digest) + "&from=" + url_escape(from_repo));
  impl_->extra_scopes.push_back("repository:" + from_repo + ":pull");
  AIRLOCK_TRY(auto r, impl_->send(req), "mounting blob " + digest);
  if (r.status == 201) return true;
  if (r.status == 202) {  // an upload session instead: not needed, let it go
    HttpRequest del;
    del.method = "DELETE";
    del.url = resolve_url(req.url, r.header("location"));
    (void)impl_->exchange(del);
    return false;
  }
  return fail(impl_->http_error("mount blob " + digest, r));
}

Result<std::string> Client::put_manifest(const std::string& target, const std::string& media_type,
                                         const std::string& bytes) {
  StringReader body(bytes);
  HttpRequest req;
  req.method = "PUT";
  req.url = impl_->url("/manifests/" + target);
  req.headers.push_back("Content-Type: " + media_type);
  req.body = &body;
  req.body_size = bytes.size();
  for (int attempt = 1;; ++attempt) {
    body = StringReader(bytes);
    auto r = impl_->exchange(req);
    const bool again = attempt < impl_->opts.attempts;
    if (again && ((!r && r.error().cls() == ErrorClass::io) || (r && (r->status >= 500 || r->status == 401)))) {
      if (!r || r->status != 401) backoff(attempt);
      continue;
    }
    if (!r) return fail(std::move(r).error().with_context("manifest " + target));
    if (r->status != 201) return fail(impl_->http_error("PUT manifest " + target, *r));
    return blob::digest_text(sha256(bytes));
  }
}

Result<FetchedManifest> Client::get_manifest(const std::string& target, const std::string& accept,
                                             std::size_t max_bytes) {
  HttpRequest req;
  req.url = impl_->url("/manifests/" + target);
  req.headers.push_back("Accept: " + accept);
  req.max_capture = max_bytes;
  req.over_capture = ErrorClass::malformed;
  AIRLOCK_TRY(auto r, impl_->send(req), "manifest " + target);
  if (r.status != 200) return fail(impl_->http_error("GET manifest " + target, r));
  FetchedManifest m{r.header("content-type"), std::move(r.body), ""};
  m.digest = blob::digest_text(sha256(m.bytes));
  if (target.starts_with(blob::kSha256Prefix) && m.digest != target)
    return fail(ErrorClass::integrity, "manifest " + target + ": the registry sent bytes whose digest is " + m.digest);
  return m;
}

Result<std::optional<std::string>> Client::manifest_digest(const std::string& target, const std::string& accept) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = impl_->url("/manifests/" + target);
  req.headers.push_back("Accept: " + accept);
  AIRLOCK_TRY(auto r, impl_->send(req), "manifest " + target);
  if (r.status == 404) return std::optional<std::string>();
  if (r.status != 200) return fail(impl_->http_error("HEAD manifest " + target, r));
  return std::optional<std::string>(r.header("docker-content-digest"));
}

Result<std::size_t> FileRangeReader::read(void* buf, std::size_t len) {
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(len, left_));
  if (want == 0) return std::size_t{0};
  const ssize_t n = ::pread(fd_, buf, want, static_cast<off_t>(pos_));
  if (n < 0) return fail(errno_error("read", name_, errno));
  if (n == 0) return fail(ErrorClass::io, "'" + name_ + "' is shorter than it was when it was hashed");
  pos_ += static_cast<std::uint64_t>(n);
  left_ -= static_cast<std::uint64_t>(n);
  return static_cast<std::size_t>(n);
}

Result<std::size_t> StringReader::read(void* buf, std::size_t len) {
  const std::size_t n = std::min(len, s_.size());
  std::memcpy(buf, s_.data(), n);
  s_.remove_prefix(n);
  return n;
}

}  // namespace airlock::registry
