// Writes the seed corpora of every fuzz target into <out>/<target>/ from real inputs: the example
// recipes under manifests/ built by the bundler and signed by the harness key, bundles crafted with
// tests/support/craft (pax long paths, a trust update, executables), the repository's key files,
// trust roots and config deltas, and a few small hand-made documents. Nothing is committed: the
// corpora live in the build folder and are made again from source.
//   usage: airlock_fuzz_corpus_gen <source dir> <out dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bundler/bundler.hpp"
#include "core/container/container.hpp"
#include "core/crypto/minisign_internal.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "fuzz/harness.hpp"
#include "tests/support/craft.hpp"

using namespace airlock;
namespace fs = std::filesystem;
namespace craft = airlock::test::craft;

namespace {

std::map<std::string, std::vector<std::string>> seeds;

void add(const std::string& target, std::string bytes) { seeds[target].push_back(std::move(bytes)); }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "corpus_gen: %s\n", msg.c_str());
  std::exit(1);
}

std::string slurp(const fs::path& p) {
  auto r = read_file(p.string(), 64 << 20);
  if (!r) die(r.error().what());
  return *r;
}

std::string decompress(const std::string& bundle) {
  auto src = memory_source(bundle);
  ZstdReader z(*src);
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = z.read(buf, sizeof buf);
    if (!n) die("cannot decompress a seed bundle: " + n.error().what());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

// manifest bytes, and the tar bytes from the first payload entry on (end marker included).
std::pair<std::string, std::string> split_bundle(const std::string& bundle) {
  const auto tar_bytes = decompress(bundle);
  auto src = memory_source(bundle);
  ZstdReader z(*src);
  TarReader tar(z);
  std::string manifest;
  std::uint64_t payload_at = 0;
  for (;;) {
    auto e = tar.next();
    if (!e) die("seed bundle: " + e.error().what());
    if (!*e || ((**e).path.rfind("signatures/", 0) != 0 && (**e).path != "manifest.toml")) {
      payload_at = *e ? (**e).offset : tar_bytes.size() - 1024;
      break;
    }
    std::string data(static_cast<std::size_t>((**e).size), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      auto n = tar.read(data.data() + got, data.size() - got);
      if (!n || *n == 0) die("seed bundle: short entry");
      got += *n;
    }
    char b;
    if (!tar.read(&b, 1)) die("seed bundle: padding");
    if ((**e).path == "manifest.toml") manifest = data;
  }
  return {manifest, tar_bytes.substr(static_cast<std::size_t>(payload_at))};
}

void add_bundle(const std::string& bytes) {
  add("bundle", bytes);
  add("tar", bytes);
  add("tar_raw", decompress(bytes));
  auto [manifest, payload] = split_bundle(bytes);
  add("manifest", manifest);
  add("bundle_signed", manifest + std::string(fuzz::kSplit) + payload);
}

void built_bundles(const fs::path& src, const fs::path& tmp) {
  for (const char* recipe : {"manifests/example/recipe.toml", "manifests/example-1.2.0/recipe.toml"}) {
    bundler::BuildRequest req;
    req.recipe_path = (src / recipe).string();
    req.keys = {fuzz::harness_key()};
    req.out_path = (tmp / "built.tar.zst").string();
    req.workers = 1;
    auto r = bundler::build(req);
    if (!r) die(std::string(recipe) + ": " + r.error().what());
    add_bundle(slurp(req.out_path));
  }
}

void crafted_bundles() {
  const craft::Key key{"fuzz-harness", fuzz::harness_key()};
  craft::BundleSpec plain;
  plain.created = "2026-01-01T00:00:00Z";
  add_bundle(craft::good_bundle(plain, {&key}).bytes());

  craft::BundleSpec lng = plain;  // a path over 100 bytes: pax header
  lng.files.push_back({"data/" + std::string(120, 'x') + ".bin", std::string(700, 'z'), false});
  lng.expires = "2027-01-01T00:00:00Z";
  add_bundle(craft::good_bundle(lng, {&key}).bytes());

  craft::BundleSpec upd = plain;  // a trust update signed by the same key
  upd.trust_update = "trust/new.toml";
  TrustRoot next = fuzz::harness_trust();
  next.serial = 1;  // newer than the harness root, so the update is checked, not ignored as stale
  upd.files.push_back({"trust/new.toml", render_trust_root(next), false});
  add_bundle(craft::good_bundle(upd, {&key}).bytes());

  craft::BundleSpec full = plain;  // every manifest section
  full.extra_toml =
      "\n[[images]]\nref = \"registry.example.org/demo/api:1.1.0\"\ndigest = \"sha256:" + std::string(64, 'a') +
      "\"\n\n[[migrations]]\nid = \"0001_init\"\ndatabase = \"main\"\nup = \"bin/migrate.sh\"\n"
      "down = \"data/table.csv\"\n\n[[config]]\ntarget = \"topology\"\npatch = \"data/table.csv\"\n";
  add("manifest", craft::manifest_text(full));
}

void minisign_seeds(const fs::path& src) {
  const auto k = fuzz::harness_key();
  const auto sig = minisign::sign(k, "manifest bytes", "airlock bench 4.5.3 manifest-sha256:" + std::string(64, '0'));
  add("minisign", minisign::format_signature(sig));
  add("minisign", minisign::format_public_key_file(k.public_key()));
  add("minisign", minisign::public_key_base64(k.public_key()));
  auto plain = minisign::format_secret_key_file(k, std::nullopt);
  if (!plain) die(plain.error().what());
  add("minisign", *plain);
  auto enc = minisign::format_secret_key_file_with_kdf(k, "pw", minisign::kTestKdf);
  if (!enc) die(enc.error().what());
  add("minisign", *enc);
  for (const auto& e : fs::directory_iterator(src / "keys")) {
    const auto ext = e.path().extension();
    if (ext == ".pub" || ext == ".key") add("minisign", slurp(e.path()));
    if (e.path().filename() == "trust.toml") add("trust", slurp(e.path()));
  }
}

void trust_seeds() {
  const craft::Key a{"hq-a", fuzz::harness_key()};
  const craft::Key b = craft::make_key("hq-b");
  add("trust", craft::trust_toml(craft::trust_root({craft::trust_key(a)})));
  add("trust", craft::trust_toml(craft::trust_root(
                   {craft::trust_key(a, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00.5+02:00"),
                    craft::trust_key(b, std::nullopt, std::nullopt, true)},
                   2)));
  add("trust", render_trust_root(fuzz::harness_trust()));
}

void config_seeds(const fs::path& src) {
  const auto patch = slurp(src / "manifests/example/config/topology.patch.toml");
  const auto target = slurp(src / "manifests/demo-site/topology.toml");
  const std::string sep(fuzz::kSplit);
  add("config_delta", patch);
  add("config_delta", patch + sep + target);
  add("config_delta", "[set]\ncache.size_mb = 512\ndb.pool.timeout.idle = 30\nnew.key = [1, 2]\n");
  add("config_delta", "[require]\nworkers = 4\n[remove]\ncache = true\n[set]\nworkers = 8\n");
  add("config_delta", "[remove]\ndb.pool.max = true\n[set]\n\"quoted key\" = 1979-05-27T07:32:00Z\n" + sep +
                          "# site\n[db.pool]\nmax = 3 # keep\nmin = 1\n\n[other]\nx = 'y'\n");
}

void site_seeds(const fs::path& src) { add("site", slurp(src / "manifests/demo-site/site.toml")); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: airlock_fuzz_corpus_gen <source dir> <out dir>");
  const fs::path src = argv[1], out = argv[2];
  const fs::path tmp = out / ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  built_bundles(src, tmp);
  crafted_bundles();
  minisign_seeds(src);
  trust_seeds();
  config_seeds(src);
  site_seeds(src);
  fs::remove_all(tmp);
  for (const auto& [target, list] : seeds) {
    const auto dir = out / target;
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::ofstream f(dir / ("seed-" + std::to_string(i)), std::ios::binary);
      f.write(list[i].data(), static_cast<std::streamsize>(list[i].size()));
      if (!f) die("cannot write " + (dir / ("seed-" + std::to_string(i))).string());
    }
    std::printf("%-14s %zu seeds\n", target.c_str(), list.size());
  }
  return 0;
}
