// The options `push` and `pull` share: how to reach and log in to a registry. Credentials come
// from --username with the password on stdin (--password-stdin) or from an auth.json (--authfile,
// else $REGISTRY_AUTH_FILE); never from argv.
#pragma once

#include <string>

#include "cli/common.hpp"

#ifdef AIRLOCK_HAVE_REGISTRY
#include "registry/client.hpp"
#endif

namespace airlock::cli {

struct RegistryFlags {
  std::string username, authfile, ca_file, cert, key;
};

void add_registry_options(po::options_description& o, RegistryFlags& f);

// "airlock CMD: the registry client is not built in (AIRLOCK_REGISTRY=OFF)", exit 2.
int registry_not_built(const std::string& cmd);

#ifdef AIRLOCK_HAVE_REGISTRY
[[nodiscard]] Result<registry::ClientOptions> registry_client_options(const po::variables_map& vm,
                                                                      const RegistryFlags& f, const std::string& host);
#endif

}  // namespace airlock::cli
