// `airlock images push --site S oci://HOST[:PORT][/PREFIX]`: the current release's images, from the
// site's image store, into the registry the site's nodes pull from (registry/images_push.hpp).
#include <iostream>

#include "applier/image_store.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "cli/registry_options.hpp"
#include "core/text.hpp"

#ifdef AIRLOCK_HAVE_REGISTRY
#include "registry/images_push.hpp"
#endif

namespace airlock::cli {

#ifdef AIRLOCK_HAVE_REGISTRY
namespace {

using nlohmann::json;

int report(const std::vector<registry::ImagePushResult>& results, bool js) {
  const registry::ImagePushResult* failed = nullptr;
  for (const auto& r : results)
    if (r.error && !failed) failed = &r;
  if (js) {
    json a = json::array();
    for (const auto& r : results) {
      json i = {{"ref", r.ref},
                {"target", r.target},
                {"digest", r.digest},
                {"ok", !r.error},
                {"blobs_uploaded", r.blobs_uploaded},
                {"blobs_skipped", r.blobs_skipped},
                {"blobs_mounted", r.blobs_mounted},
                {"manifests_pushed", r.manifests_pushed},
                {"bytes_uploaded", r.bytes_uploaded}};
      if (r.error)
        i["error"] = {{"class", error_class_name(r.error->cls())},
                      {"exit_code", exit_code(r.error->cls())},
                      {"text", r.error->what()}};
      a.push_back(std::move(i));
    }
    print_input_json({{"ok", failed == nullptr}, {"images", a}});
  }
  for (const auto& r : results) {
    if (r.error) {
      std::cerr << "airlock images push: error (" << error_class_name(r.error->cls()) << ", exit "
                << exit_code(r.error->cls()) << "): " << r.error->what() << "\n";
      continue;
    }
    std::cerr << "images push: " << printable(r.ref) << " -> " << printable(r.target) << ": " << r.blobs_uploaded
              << " blobs uploaded (" << human_bytes(r.bytes_uploaded) << "), " << r.blobs_mounted << " mounted, "
              << r.blobs_skipped << " present\n";
    if (!js)
      std::cout << printable(r.target) << (r.target.find('@') == std::string::npos ? "@" + r.digest : "") << "\n";
  }
  return failed ? exit_code(failed->error->cls()) : 0;
}

}  // namespace
#endif

int cmd_images_push(int argc, char** argv) {
  RegistryFlags f;
  std::string site, target;
  po::options_description o("Options");
  o.add_options()("site,s", po::value<std::string>(&site)->default_value("site.toml"),
                  "the site description (docs/site.md)")("target", po::value<std::string>(&target)->required(),
                                                         "oci://HOST[:PORT][/PREFIX]");
  add_registry_options(o, f);
  po::positional_options_description pos;
  pos.add("target", 1);
  auto p = parse_args(
      argc, argv, "airlock images push oci://HOST[:PORT][/PREFIX] [--site site.toml] [options]",
      "Pushes the current release's images from the site's image store to a registry, as\n"
      "they are: every digest stays the one the release names. The ref's registry host is\n"
      "dropped and PREFIX put in front: registry.example.org/a/b:t becomes HOST/PREFIX/a/b:t\n"
      "(docs/registry.md: the k3s registries.yaml mirror and rewrite that match). Per image:\n"
      "blobs the registry has are skipped, one pushed to another repository in this run is\n"
      "mounted, the others uploaded and re-hashed from the store as they are sent; then the\n"
      "manifests (an index's children first) and the tag last; then the registry must answer\n"
      "the image's digest. A failed image is reported and the next one tried.\n"
      "Exit 2 bad arguments or credentials refused, 3 network/TLS/HTTP, 10 a ref that names\n"
      "no repository, 12 a stored blob or manifest damaged (nothing of that image's manifests\n"
      "is pushed) or the registry answering another digest.",
      o, pos,
      "  airlock images push oci://registry.site:5000/mirror --site /etc/airlock/site.toml --ca-file site-ca.pem\n"
      "  airlock images push oci://127.0.0.1:5000 --plain-http --json\n");
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
#ifndef AIRLOCK_HAVE_REGISTRY
  (void)js;
  return registry_not_built("images push");
#else
  auto root = registry::parse_registry_root(target);
  if (!root) return report_error("images push", root.error(), js);
  auto opts = registry_client_options(p.vm, f, root->host);
  if (!opts) return report_error("images push", opts.error(), js);
  auto current = applier::current_images(site);
  if (!current) return report_error("images push", current.error(), js);
  if (current->images.empty())
    std::cerr << "images push: the site's current release has no images in its image store: nothing to push\n";
  std::vector<registry::ImageToPush> images;
  for (const auto& i : current->images) images.push_back({i.ref, blob::Descriptor{i.media_type, i.digest, i.size, {}}});
  Progress progress("pushing");
  auto r = registry::push_images(current->store, images, *root, std::move(*opts),
                                 [&](const std::string& ref, std::uint64_t done, std::uint64_t total) {
                                   progress.update(done, total, printable(ref));
                                 });
  progress.done();
  if (!r) return report_error("images push", r.error(), js);
  return report(*r, js);
#endif
}

}  // namespace airlock::cli
