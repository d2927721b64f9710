// The registry's 401 challenge (RFC 7235 `WWW-Authenticate`) and what answers it: a Basic header
// from the credentials, or a Bearer token from the challenge's realm (docker token protocol).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "registry/credentials.hpp"
#include "registry/http.hpp"

namespace airlock::registry {

struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // realm, service, scope, error (names lower case)
};

[[nodiscard]] std::optional<Challenge> parse_challenge(const std::string& header);

std::string basic_header(const Credentials& c);

// GET realm?service=..&scope=.. (each of `scopes`), with Basic credentials when given; the token
// is the answer's `token` or `access_token`. Refused credentials are usage (2).
[[nodiscard]] Result<std::string> fetch_token(Http& http, const Challenge& ch, const std::vector<std::string>& scopes,
                                              const std::optional<Credentials>& creds);

// "https://host:port" of a URL ("" when it has none).
std::string origin_of(const std::string& url);
// `location` (absolute, or a path) against the URL it came from.
std::string resolve_url(const std::string& base, const std::string& location);
std::string url_escape(const std::string& s);

// The registry's own error text from an answer: "HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)".
std::string describe_answer(const HttpResponse& r);

}  // namespace airlock::registry
