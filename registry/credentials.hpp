// Registry credentials: a user name and password read by the CLI (never from argv), or the entry
// for a host in an auth.json (containers/docker format: {"auths": {"HOST": {"auth": base64(u:p)}}}).
// The password is only ever put into an Authorization header for the registry's own origin or the
// token realm the registry names.
#pragma once

#include <optional>
#include <string>

#include "core/error.hpp"

namespace airlock::registry {

struct Credentials {
  std::string username;
  std::string password;
};

// The entry for `host` in the auth.json at `path` (also under the keys "https://HOST" and
// "http://HOST"), or nullopt when it has none. An unreadable or malformed file is a usage error.
[[nodiscard]] Result<std::optional<Credentials>> credentials_from_auth_file(const std::string& path,
                                                                            const std::string& host);

}  // namespace airlock::registry
