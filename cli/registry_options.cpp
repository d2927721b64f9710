#include "cli/registry_options.hpp"

#include <cstdlib>
#include <iostream>

namespace airlock::cli {

namespace {
constexpr std::size_t kMaxPasswordBytes = 4096;
}

void add_registry_options(po::options_description& o, RegistryFlags& f) {
  o.add_options()("username", po::value<std::string>(&f.username), "registry user (the password comes from stdin)")(
      "password-stdin", "read the registry password from standard input (one line)")(
      "authfile", po::value<std::string>(&f.authfile),
      "auth.json with the registry's credentials (default: $REGISTRY_AUTH_FILE)")(
      "ca-file", po::value<std::string>(&f.ca_file), "CA certificate(s) the registry's TLS certificate must chain to")(
      "cert", po::value<std::string>(&f.cert), "client certificate (PEM) for registries that ask for one")(
      "key", po::value<std::string>(&f.key), "the client certificate's key (PEM)")(
      "plain-http", "talk plain http to the registry (never chosen silently)")("json", "machine-readable output");
}

int registry_not_built(const std::string& cmd) {
  std::cerr << "airlock " << cmd << ": the registry client is not built in (built with AIRLOCK_REGISTRY=OFF)\n";
  return 2;
}

#ifdef AIRLOCK_HAVE_REGISTRY
namespace {

Result<std::string> read_password() {
  std::string line;
  char c = 0;
  while (std::cin.get(c) && c != '\n') {
    line += c;
    if (line.size() > kMaxPasswordBytes) return fail(ErrorClass::usage, "the password on stdin is over 4096 bytes");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return fail(ErrorClass::usage, "--password-stdin: no password on standard input");
  return line;
}

}  // namespace

Result<registry::ClientOptions> registry_client_options(const po::variables_map& vm, const RegistryFlags& f,
                                                        const std::string& host) {
  registry::ClientOptions o;
  o.tls.plain_http = vm.count("plain-http") > 0;
  o.tls.ca_file = f.ca_file;
  o.tls.cert_file = f.cert;
  o.tls.key_file = f.key;
  const bool stdin_pw = vm.count("password-stdin") > 0;
  if (stdin_pw != !f.username.empty()) return fail(ErrorClass::usage, "--username and --password-stdin go together");
  if (stdin_pw && !f.authfile.empty()) return fail(ErrorClass::usage, "--username and --authfile exclude each other");
  if (stdin_pw) {
    AIRLOCK_TRY(auto pw, read_password(), "credentials");
    o.creds = registry::Credentials{f.username, std::move(pw)};
    return o;
  }
  std::string file = f.authfile;
  if (file.empty())
    if (const char* env = std::getenv("REGISTRY_AUTH_FILE"); env && *env) file = env;
  if (!file.empty()) {
    AIRLOCK_TRY(o.creds, registry::credentials_from_auth_file(file, host), "credentials");
  }
  return o;
}
#endif

}  // namespace airlock::cli
