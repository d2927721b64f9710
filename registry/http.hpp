// One HTTP exchange over libcurl, nothing more: no authentication, no redirects followed, no
// retries (registry/client.hpp adds those, so that it alone decides where credentials go). TLS
// checks the peer against the system store or a given CA file; plain http only when allowed.
// A response body goes to the request's sink when the status is 2xx, else (and when there is no
// sink) it is kept in memory up to a bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/blob/stream.hpp"
#include "core/error.hpp"

namespace airlock::registry {

struct TlsOptions {
  bool plain_http = false;  // http:// instead of https:// (never chosen silently)
  std::string ca_file;      // the site CA; empty: the system store
  std::string cert_file;    // optional client certificate (PEM)
  std::string key_file;     // its key (PEM); empty: in cert_file
};

using BodySink = std::function<Status(const void*, std::size_t)>;

struct HttpRequest {
  std::string method = "GET";  // GET HEAD POST PUT PATCH
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  blob::Reader* body = nullptr;      // PUT/PATCH/POST body, exactly body_size bytes
  std::uint64_t body_size = 0;
  BodySink sink;                                // a 2xx body; unset: captured into HttpResponse::body
  std::function<Status(long status)> on_start;  // before a 2xx body's first byte goes to `sink`
  std::size_t max_capture = 64 * 1024;          // the bound of a captured body
  ErrorClass over_capture = ErrorClass::io;     // the class of a captured body over its bound
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; the first of repeated ones
  std::string body;                            // captured (not what went to the sink)
  std::string header(const std::string& lower_name) const;
};

class Http {
 public:
  [[nodiscard]] static Result<Http> create(TlsOptions tls);
  Http(Http&&) noexcept;
  Http& operator=(Http&&) noexcept;
  ~Http();
  // A transport failure (DNS, connect, TLS, a connection closed mid-body) is io (3); a sink's
  // error is returned as it is.
  [[nodiscard]] Result<HttpResponse> perform(const HttpRequest& req);
  const TlsOptions& tls() const;

 private:
  struct Impl;
  explicit Http(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airlock::registry
