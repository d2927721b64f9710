// libcurl behind registry/http.hpp. Redirects are never followed here and CURLOPT_UNRESTRICTED_AUTH
// stays off: the client follows a redirect itself and decides whether credentials go with it.
#include "registry/http.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "registry/curl_handles.hpp"

namespace airlock::registry {

namespace {

constexpr long kConnectTimeoutSeconds = 30;
// A transfer slower than 1 byte/s for this long is a stalled connection, retried by the caller.
constexpr long kStallSeconds = 60;
// libcurl's default buffers (16 KiB down, 64 KiB up) mean a read callback, a pread and a send per
// 64 KiB of a layer; 1 MiB each cuts those calls 16-fold on bundles of gigabytes.
constexpr long kTransferBufferBytes = 1024 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

struct Exchange {
  CURL* h = nullptr;
  const HttpRequest* req = nullptr;
  HttpResponse resp;
  std::optional<Error> sink_error;  // what stopped the transfer from our side
  bool started = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after a 100 Continue, say): start over
    x->resp.headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  x->resp.headers.emplace(lower(std::string(line.substr(0, colon))), trim(line.substr(colon + 1)));
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
  if (x->req->sink && code >= 200 && code < 300) {
    if (!x->started && x->req->on_start) {
      if (auto st = x->req->on_start(code); !st) {
        x->sink_error = std::move(st).error();
        return 0;
      }
    }
    x->started = true;
    auto s = x->req->sink(data, len);
    if (!s) {
      x->sink_error = std::move(s).error();
      return 0;
    }
    return len;
  }
  if (x->resp.body.size() + len > x->req->max_capture) {
    if (x->req->sink) return len;  // an error page too long to keep: its start is enough
    x->sink_error = Error(x->req->over_capture, "response body from '" + x->req->url + "' is over " +
                                                    std::to_string(x->req->max_capture) + " bytes");
    return 0;
  }
  x->resp.body.append(data, len);
  return len;
}

std::size_t on_read(char* data, std::size_t size, std::size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  if (!x->req->body) return 0;
  auto r = x->req->body->read(data, size * n);
  if (!r) {
    x->sink_error = std::move(r).error();
    return CURL_READFUNC_ABORT;
  }
  return *r;
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

struct Http::Impl {
  TlsOptions tls;
  CurlEasy easy;
};

Http::Http(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Http::Http(Http&&) noexcept = default;
Http& Http::operator=(Http&&) noexcept = default;
Http::~Http() = default;
const TlsOptions& Http::tls() const { return impl_->tls; }

Result<Http> Http::create(TlsOptions tls) {
  global_init();
  CurlEasy easy(curl_easy_init());
  if (!easy) return fail(ErrorClass::internal, "curl_easy_init failed");
  auto impl = std::make_unique<Impl>();
  impl->tls = std::move(tls);
  impl->easy = std::move(easy);
  return Http(std::move(impl));
}

namespace {

void set_method(CURL* h, const HttpRequest& req) {
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST" && !req.body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
  } else if (req.method == "PUT" || req.method == "PATCH" || req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body ? req.body_size : 0));
    if (req.method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
}

void set_tls(CURL* h, const TlsOptions& tls) {
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, tls.key_file.c_str());
}

}  // namespace

Result<HttpResponse> Http::perform(const HttpRequest& req) {
  const bool is_http = req.url.starts_with("http://");
  if (!req.url.starts_with("https://") && !is_http)
    return fail(ErrorClass::io, "refusing URL '" + req.url + "': only http and https");
  if (is_http && !impl_->tls.plain_http)
    return fail(ErrorClass::usage, "refusing plain http to '" + req.url + "' (use --plain-http for such a registry)");
  CURL* h = impl_->easy.get();
  curl_easy_reset(h);
  Exchange x;
  x.h = h;
  x.req = &req;
  CurlSlist headers;
  for (const auto& line : req.headers) headers.reset(curl_slist_append(headers.release(), line.c_str()));
  headers.reset(curl_slist_append(headers.release(), "Expect:"));  // no 100-continue round trip
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "airlock");
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kTransferBufferBytes);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, kTransferBufferBytes);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, &x);
  set_tls(h, impl_->tls);
  set_method(h, req);
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(h);
  if (x.sink_error) return fail(std::move(*x.sink_error));
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return fail(ErrorClass::io, req.method + " '" + req.url + "': " + why);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.resp.status);
  return std::move(x.resp);
}

}  // namespace airlock::registry
