// Client's state and its one request path (authentication, redirects, retries), shared by
// client.cpp (the calls) and upload.cpp (the chunked upload).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "registry/auth.hpp"
#include "registry/client.hpp"

namespace airlock::registry {

inline constexpr int kMaxRedirects = 5;
inline constexpr int kMaxAuthRounds = 2;  // a fresh answer to the challenge, then once more after it

inline bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

inline void backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(250 << attempt, 4000)));
}

// The challenge's own reason ("insufficient_scope", "invalid_token"), for the error message.
inline std::string challenge_error(const Challenge& ch) {
  auto e = ch.params.find("error");
  return e == ch.params.end() ? std::string() : " [" + e->second + "]";
}

struct Client::Impl {
  Http http;
  std::string host, repo, base;  // base: "https://host"
  ClientOptions opts;
  std::string authorization;  // the header value for the registry's origin, once known
  std::vector<std::string> extra_scopes;

  std::vector<std::string> scopes() const {
    std::vector<std::string> s = {"repository:" + repo + (opts.access == Access::push ? ":pull,push" : ":pull")};
    for (const auto& e : extra_scopes)
      if (std::find(s.begin(), s.end(), e) == s.end()) s.push_back(e);
    return s;
  }

  Status answer_challenge(const HttpResponse& r, int round) {
    auto ch = parse_challenge(r.header("www-authenticate"));
    const bool had = !authorization.empty();
    if (!ch) return fail(ErrorClass::usage, "registry '" + host + "' answered 401 without a challenge");
    if (round >= kMaxAuthRounds || (had && ch->scheme == "basic"))
      return fail(ErrorClass::usage,
                  "registry '" + host + "' refused the credentials: " + describe_answer(r) + challenge_error(*ch));
    if (ch->scheme == "basic") {
      if (!opts.creds)
        return fail(ErrorClass::usage,
                    "registry '" + host + "' needs credentials (--username with --password-stdin, or --authfile)");
      authorization = basic_header(*opts.creds);
      return {};
    }
    if (ch->scheme != "bearer")
      return fail(ErrorClass::usage,
                  "registry '" + host + "' asks for unsupported authentication '" + ch->scheme + "'");
    if (auto s = ch->params.find("scope"); s != ch->params.end()) {
      for (std::size_t i = 0; i < s->second.size();) {
        auto sp = s->second.find(' ', i);
        extra_scopes.push_back(s->second.substr(i, sp - i));
        i = sp == std::string::npos ? s->second.size() : sp + 1;
      }
    }
    AIRLOCK_TRY(auto token, fetch_token(http, *ch, scopes(), opts.creds), "registry '" + host + "'");
    authorization = "Bearer " + token;
    return {};
  }

  // One attempt: the challenge answered, redirects followed (credentials to our origin only).
  Result<HttpResponse> exchange(const HttpRequest& req) {
    std::string url = req.url;
    int redirects = 0, auth_rounds = 0;
    for (;;) {
      HttpRequest cur = req;
      cur.url = url;
      const bool ours = origin_of(url) == origin_of(base);
      if (ours && !authorization.empty()) cur.headers.push_back("Authorization: " + authorization);
      auto sent = http.perform(cur);
      if (!sent) return fail(std::move(sent).error());
      HttpResponse r = std::move(*sent);
      if (r.status == 401 && ours) {
        AIRLOCK_CHECK(answer_challenge(r, auth_rounds++), req.method + " " + req.url);
        if (req.body) return r;  // the body is spent: the caller resends from what was acknowledged
        continue;
      }
      const std::string location = r.header("location");
      if (is_redirect(r.status) && !location.empty() && (req.method == "GET" || req.method == "HEAD")) {
        if (++redirects > kMaxRedirects) return fail(ErrorClass::io, "more than 5 redirects from '" + req.url + "'");
        url = resolve_url(url, location);
        continue;
      }
      return r;
    }
  }

  // Retries network errors and 5xx (requests without a streamed body or sink only).
  Result<HttpResponse> send(const HttpRequest& req) {
    for (int attempt = 1;; ++attempt) {
      auto r = exchange(req);
      const bool again = attempt < opts.attempts && !req.body && !req.sink;
      if (!r && r.error().cls() == ErrorClass::io && again) {
        backoff(attempt);
        continue;
      }
      if (r && r->status >= 500 && again) {
        backoff(attempt);
        continue;
      }
      return r;
    }
  }

  Error http_error(const std::string& what, const HttpResponse& r) const {
    const ErrorClass c = (r.status == 401 || r.status == 403) ? ErrorClass::usage : ErrorClass::io;
    return Error(c, what + ": registry '" + host + "' answered " + describe_answer(r));
  }

  std::string url(const std::string& tail) const { return base + "/v2/" + repo + tail; }
};

}  // namespace airlock::registry
