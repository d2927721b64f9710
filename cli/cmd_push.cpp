// `airlock push BUNDLE oci://HOST[:PORT]/REPO:TAG`: the bundle as an OCI artifact
// (registry/artifact.hpp); prints the manifest digest.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/registry_options.hpp"

#include "bundler/split.hpp"

#ifdef AIRLOCK_HAVE_REGISTRY
#include "registry/transfer.hpp"
#endif

namespace airlock::cli {

int cmd_push(int argc, char** argv) {
  RegistryFlags f;
  std::string bundle, target, chunk_text = "256M";
  po::options_description o("Options");
  o.add_options()("bundle", po::value<std::string>(&bundle)->required(), "bundle file")(
      "target", po::value<std::string>(&target)->required(), "oci://HOST[:PORT]/REPO:TAG")(
      "chunk", po::value<std::string>(&chunk_text), "payload layer size: bytes, or with K, M, G (default 256M)");
  add_registry_options(o, f);
  po::positional_options_description pos;
  pos.add("bundle", 1).add("target", 1);
  auto p = parse_args(
      argc, argv, "airlock push BUNDLE oci://HOST[:PORT]/REPO:TAG [--chunk 256M] [options]",
      "Publishes a bundle to an OCI registry as one artifact (artifactType\n"
      "application/vnd.airlock.bundle.v1): layer 1 holds the manifest and signatures, the\n"
      "payload follows in --chunk layers. Layers the registry has are skipped. The same bundle\n"
      "and chunk give the same manifest digest anywhere; it is printed.\n"
      "Exit 2 bad arguments or credentials refused, 3 network/TLS/HTTP, 10 not a bundle.",
      o, pos,
      "  airlock push demo-1.1.0.tar.zst oci://registry.site:5000/airlock/demo:1.1.0 --ca-file site-ca.pem\n"
      "  echo \"$PW\" | airlock push b.tar.zst oci://reg/airlock/demo:1.1.0 --username ci --password-stdin\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
#ifndef AIRLOCK_HAVE_REGISTRY
  (void)js;
  return registry_not_built("push");
#else
  // A layer size only: "fat32" is a stick's file size limit, no reason for a layer's size.
  auto chunk = bundler::parse_byte_size(chunk_text, "--chunk", "256M, 64M or 1048576");
  if (!chunk) return report_error("push", chunk.error(), js);
  auto ref = registry::parse_reference(target);
  if (!ref) return report_error("push", ref.error(), js);
  auto opts = registry_client_options(p.vm, f, ref->host);
  if (!opts) return report_error("push", opts.error(), js);
  Progress progress("pushing");
  auto r = registry::push_bundle(bundle, *ref, std::move(*opts), *chunk,
                                 [&](std::size_t i, std::size_t n, std::uint64_t done, std::uint64_t total) {
                                   progress.update(done, total, "layer " + std::to_string(i) + "/" + std::to_string(n));
                                 });
  progress.done();
  if (!r) return report_error("push", r.error(), js);
  if (js) {
    print_json({{"ok", true},
                {"reference", ref->text()},
                {"digest", r->digest},
                {"name", r->artifact.name},
                {"sha256", r->artifact.sha256},
                {"size", r->artifact.size},
                {"layers", r->artifact.layers.size()},
                {"layers_uploaded", r->layers_uploaded},
                {"bytes_uploaded", r->bytes_uploaded}});
    return 0;
  }
  const std::size_t layers = r->artifact.layers.size();
  std::cerr << "push: " << r->layers_uploaded << " of " << layers << " layers uploaded ("
            << human_bytes(r->bytes_uploaded) << ")"
            << (r->layers_uploaded < layers ? ", the others were in the registry already" : "") << "\n";
  std::cout << r->digest << "\n";
  return 0;
#endif
}

}  // namespace airlock::cli
