// Client::upload_blob: the distribution spec's chunked upload. Each PATCH carries Content-Range;
// after a failed one the registry is asked how far it got (GET on the session: `Range: 0-K`) and
// the upload goes on from there, so a broken connection costs at most one PATCH. A session the
// registry no longer knows (404, BLOB_UPLOAD_INVALID after a restart) starts the blob again.
#include "registry/client_impl.hpp"

namespace airlock::registry {

namespace {

enum class Outcome { done, lost };

struct Session {
  std::string location;
  std::uint64_t offset = 0;
};

bool session_lost(const HttpResponse& r) {
  return r.status == 404 || (r.status == 400 && r.body.find("BLOB_UPLOAD_INVALID") != std::string::npos);
}

Result<Session> start(Client::Impl& c) {
  HttpRequest req;
  req.method = "POST";
  req.url = c.url("/blobs/uploads/");
  AIRLOCK_TRY(auto r, c.send(req), "starting an upload");
  if (r.status != 202 || r.header("location").empty()) return fail(c.http_error("POST upload", r));
  return Session{resolve_url(req.url, r.header("location")), 0};
}

// The offset the registry acknowledges, nullopt when it lost the session.
Result<std::optional<std::uint64_t>> acknowledged(Client::Impl& c, Session& s) {
  HttpRequest req;
  req.url = s.location;
  AIRLOCK_TRY(auto r, c.send(req), "asking the upload's progress");
  if (session_lost(r)) return std::optional<std::uint64_t>();
  if (r.status != 204) return fail(c.http_error("GET upload status", r));
  if (!r.header("location").empty()) s.location = resolve_url(s.location, r.header("location"));
  // "0-K": K+1 bytes. distribution also answers "0-0" for an empty upload; reading that as
  // nothing costs at most one byte sent again, reading it as one byte would corrupt the blob.
  const std::string range = r.header("range");
  const auto dash = range.find('-');
  if (dash == std::string::npos || range == "0-0") return std::optional<std::uint64_t>(0);
  try {
    return std::optional<std::uint64_t>(std::stoull(range.substr(dash + 1)) + 1);
  } catch (const std::exception&) {
    return fail(ErrorClass::io, "upload status: Range '" + range + "' is not a byte range");
  }
}

Result<HttpResponse> patch(Client::Impl& c, const Session& s, std::uint64_t n, const OpenRange& open) {
  AIRLOCK_TRY(auto reader, open(s.offset, n), "reading the blob");
  HttpRequest req;
  req.method = "PATCH";
  req.url = s.location;
  req.headers = {"Content-Type: application/octet-stream",
                 "Content-Range: " + std::to_string(s.offset) + "-" + std::to_string(s.offset + n - 1)};
  req.body = reader.get();
  req.body_size = n;
  return c.exchange(req);
}

bool retryable(const Result<HttpResponse>& r) {
  if (!r) return r.error().cls() == ErrorClass::io;
  return r->status >= 500 || r->status == 401 || r->status == 416;
}

Result<Outcome> send_bytes(Client::Impl& c, Session& s, std::uint64_t size, const OpenRange& open) {
  int failures = 0;
  while (s.offset < size) {
    const std::uint64_t n = std::min(c.opts.patch_bytes, size - s.offset);
    auto r = patch(c, s, n, open);
    if (r && r->status == 202) {
      if (!r->header("location").empty()) s.location = resolve_url(s.location, r->header("location"));
      s.offset += n;
      failures = 0;
      continue;
    }
    if (r && session_lost(*r)) return Outcome::lost;
    if (!retryable(r)) return r ? fail(c.http_error("PATCH upload", *r)) : fail(std::move(r).error());
    if (++failures >= c.opts.attempts) return r ? fail(c.http_error("PATCH upload", *r)) : fail(std::move(r).error());
    backoff(failures);
    AIRLOCK_TRY(auto ack, acknowledged(c, s), "after a failed PATCH");
    if (!ack) return Outcome::lost;
    s.offset = *ack;
  }
  return Outcome::done;
}

Result<Outcome> close(Client::Impl& c, const Session& s, const std::string& digest) {
  HttpRequest req;
  req.method = "PUT";
  req.url = s.location + (s.location.find('?') == std::string::npos ? "?" : "&") + "digest=" + url_escape(digest);
  AIRLOCK_TRY(auto r, c.send(req), "closing the upload");
  if (r.status == 201) return Outcome::done;
  if (session_lost(r)) return Outcome::lost;
  return fail(c.http_error("PUT upload", r));
}

}  // namespace

Status Client::upload_blob(const std::string& digest, std::uint64_t size, const OpenRange& open) {
  for (int sessions = 1;; ++sessions) {
    auto s = start(*impl_);
    if (!s) return fail(std::move(s).error().with_context("blob " + digest));
    auto sent = send_bytes(*impl_, *s, size, open);
    if (!sent) return fail(std::move(sent).error().with_context("blob " + digest));
    if (*sent == Outcome::done) {
      auto closed = close(*impl_, *s, digest);
      if (!closed) return fail(std::move(closed).error().with_context("blob " + digest));
      if (*closed == Outcome::done) return {};
    }
    if (sessions >= impl_->opts.attempts)
      return fail(ErrorClass::io,
                  "blob " + digest + ": the registry lost the upload session " + std::to_string(sessions) + " times");
  }
}

}  // namespace airlock::registry
