// `airlock pull oci://HOST/REPO(:TAG|@sha256:..) --out FILE`: a bundle back from a registry, byte
// for byte, each layer and the whole file proven; --trust judges the head before the body.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/registry_options.hpp"
#include "core/crypto/hash.hpp"
#include "core/limits.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"

#ifdef AIRLOCK_HAVE_REGISTRY
#include "registry/transfer.hpp"
#include "verifier/head_check.hpp"
#endif

namespace airlock::cli {

#ifdef AIRLOCK_HAVE_REGISTRY
namespace {

// --trust: spec §7 steps 1-5 on the head alone (verifier/head_check.hpp).
Result<std::function<Status(const std::string&)>> head_check(const std::string& trust_path) {
  AIRLOCK_TRY(auto text, read_file(trust_path, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(auto trust, parse_trust_root(text, ErrorClass::usage), "trust root '" + trust_path + "'");
  return std::function<Status(const std::string&)>([trust](const std::string& head_file) -> Status {
    verifier::Request req;
    req.bundle_path = head_file;
    req.trust = trust;
    AIRLOCK_TRY(auto report, verifier::verify_head(req), "--trust");
    return {};
  });
}

int report_pull(const registry::PullResult& r, const std::string& out, bool js) {
  if (js) {
    print_json({{"ok", true},
                {"digest", r.digest},
                {"out", out},
                {"name", r.artifact.name},
                {"sha256", r.artifact.sha256},
                {"size", r.artifact.size},
                {"layers", r.artifact.layers.size()},
                {"bytes_fetched", r.bytes_fetched},
                {"bytes_reused", r.bytes_reused}});
    return 0;
  }
  std::cerr << "pull: " << human_bytes(r.bytes_fetched) << " fetched, " << human_bytes(r.bytes_reused)
            << " reused from an earlier run; every layer and the whole file match\n";
  std::cout << printable(out) << "  sha256 " << r.artifact.sha256 << "  " << r.digest << "\n";
  return 0;
}

}  // namespace
#endif

int cmd_pull(int argc, char** argv) {
  RegistryFlags f;
  std::string source, out, sha, trust;
  po::options_description o("Options");
  o.add_options()("source", po::value<std::string>(&source)->required(), "oci://HOST[:PORT]/REPO:TAG or @sha256:...")(
      "out", po::value<std::string>(&out)->required(), "the bundle file to write (through OUT.partial)")(
      "sha256", po::value<std::string>(&sha), "the whole file's sha256 it must have (e.g. from the feed)")(
      "trust", po::value<std::string>(&trust), "trust root: verify the head (authentic, policy) before the body");
  add_registry_options(o, f);
  po::positional_options_description pos;
  pos.add("source", 1);
  auto p = parse_args(
      argc, argv, "airlock pull oci://HOST[:PORT]/REPO(:TAG|@sha256:DIGEST) --out FILE [options]",
      "Fetches a bundle pushed by `airlock push` into FILE, byte for byte: the artifact type,\n"
      "layer count and sizes are checked first, every layer's digest and the whole file's\n"
      "sha256 (and --sha256) after. An interrupted pull keeps FILE.partial and the next pull\n"
      "resumes it with Range; a verification failure removes it. FILE appears only when all\n"
      "of it matched. Exit 2 bad arguments or credentials refused, 3 network/TLS/HTTP,\n"
      "10 not an airlock bundle artifact, 12 digest or size mismatch.",
      o, pos,
      "  airlock pull oci://registry.site:5000/airlock/demo:1.1.0 --out demo-1.1.0.tar.zst --ca-file ca.pem\n"
      "  airlock pull oci://reg/airlock/demo@sha256:... --out b.tar.zst --trust trust.toml\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
#ifndef AIRLOCK_HAVE_REGISTRY
  (void)js;
  return registry_not_built("pull");
#else
  if (!sha.empty() && !is_lower_hex(sha, 64))
    return report_error("pull", Error(ErrorClass::usage, "--sha256 must be 64 lower-case hex digits"), js);
  registry::PullRequest req;
  auto ref = registry::parse_reference(source);
  if (!ref) return report_error("pull", ref.error(), js);
  req.ref = *ref;
  auto opts = registry_client_options(p.vm, f, ref->host);
  if (!opts) return report_error("pull", opts.error(), js);
  req.opts = std::move(*opts);
  req.out = out;
  if (!sha.empty()) req.sha256 = sha;
  if (!trust.empty()) {
    auto check = head_check(trust);
    if (!check) return report_error("pull", check.error(), js);
    req.check_head = std::move(*check);
  }
  Progress progress("pulling");
  req.progress = [&](std::size_t i, std::size_t n, std::uint64_t done, std::uint64_t total) {
    progress.update(done, total, "layer " + std::to_string(i) + "/" + std::to_string(n));
  };
  auto r = registry::pull_bundle(req);
  progress.done();
  if (!r) return report_error("pull", r.error(), js);
  return report_pull(*r, out, js);
#endif
}

}  // namespace airlock::cli
