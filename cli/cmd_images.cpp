// `airlock images list|verify|gc`: the site's image store (applier/image_store.hpp, docs/site.md
// "The image store"); `images push` is cmd_images_push.cpp.
#include <iostream>
#include <string_view>
#include <vector>

#include "applier/image_store.hpp"
#include "cli/cmd_site.hpp"
#include "cli/common.hpp"
#include "core/text.hpp"

namespace airlock::cli {
namespace {

using nlohmann::json;
namespace ap = airlock::applier;

int list(const std::string& site, bool js) {
  auto r = ap::images_list(site);
  if (!r) return report_error("images", r.error(), js);
  if (js) {
    json a = json::array();
    for (const auto& i : *r)
      a.push_back({{"ref", i.ref}, {"digest", i.digest}, {"release", i.release}, {"tagged", i.tagged}});
    print_json({{"ok", true}, {"images", a}});
    return 0;
  }
  if (r->empty()) std::cout << "(no images stored)\n";
  for (const auto& i : *r)
    std::cout << printable(i.ref) << "  " << i.digest << "  " << printable(i.release) << (i.tagged ? "  (current)" : "")
              << "\n";
  return 0;
}

int verify(const std::string& site, bool js) {
  auto r = ap::images_verify(site);
  if (!r) return report_error("images", r.error(), js);
  const bool ok = r->problems.empty();
  if (js) {
    json a = json::array();
    for (const auto& p : r->problems) a.push_back({{"digest", p.digest}, {"problem", p.what}});
    print_json({{"ok", ok}, {"blobs", r->blobs}, {"problems", a}});
  } else {
    for (const auto& p : r->problems) std::cerr << "images: " << p.digest << ": " << printable(p.what) << "\n";
    std::cout << "images: " << r->blobs << " blobs checked, " << r->problems.size() << " damaged or missing\n";
  }
  return ok ? 0 : exit_code(ErrorClass::integrity);
}

int gc(const std::string& site, bool dry, bool js) {
  auto r = ap::images_gc(site, dry ? ap::DryRun::yes : ap::DryRun::no);
  if (!r) return report_error("images", r.error(), js);
  if (js) {
    print_json({{"ok", true}, {"dry_run", dry}, {"removed", r->removed}, {"bytes", r->bytes}, {"kept", r->kept}});
    return 0;
  }
  for (const auto& d : r->removed) std::cout << (dry ? "would remove " : "removed ") << d << "\n";
  std::cout << "images: " << (dry ? "would free " : "freed ") << human_bytes(r->bytes) << ", " << r->kept
            << " blobs kept\n";
  return 0;
}

}  // namespace

int cmd_images(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "push") {
    static char name[] = "images push";
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = name;
    args.push_back(nullptr);
    return cmd_images_push(argc - 1, args.data());
  }
  std::string site, action = "list";
  po::options_description o("Options");
  add_common(o, site);
  o.add_options()("action", po::value<std::string>(&action), "list (default) | verify | gc")(
      "dry-run", "gc: only say what would be removed");
  po::positional_options_description pos;
  pos.add("action", 1);
  auto p = parse_args(argc, argv,
                      "airlock images [list | verify | gc [--dry-run]] [--site site.toml] [--json]\n"
                      "       airlock images push oci://HOST[:PORT][/PREFIX] [--site site.toml] [options]",
                      "The site's image store: the images of the kept releases (the current one tagged),\n"
                      "every stored blob re-hashed (exit 12 when one is damaged or missing), and the\n"
                      "removal of the blobs no kept release needs (under the site lock; 32 busy).\n"
                      "push: the current images to the registry the site's nodes pull from\n"
                      "('airlock images push --help' for its options).",
                      o, pos);
  if (p.exit_now) return *p.exit_now;
  const bool js = p.vm.count("json") > 0;
  const bool dry = p.vm.count("dry-run") > 0;
  if (dry && action != "gc") return report_error("images", Error(ErrorClass::usage, "--dry-run is for gc"), js);
  if (action == "list") return list(site, js);
  if (action == "verify") return verify(site, js);
  if (action == "gc") return gc(site, dry, js);
  return report_error("images",
                      Error(ErrorClass::usage, "unknown action '" + printable(action) + "' (list, verify, gc, push)"),
                      js);
}

}  // namespace airlock::cli
