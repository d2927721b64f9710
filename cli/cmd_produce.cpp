// Producer commands: keygen, build, sign.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <limits>

#include "bundler/bundler.hpp"
#include "bundler/split.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/password.hpp"
#include "core/crypto/minisign.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"

namespace airlock::cli {

namespace {

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

int cmd_keygen(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("out,o", po::value<std::string>()->required(), "write PREFIX.key (mode 0600) and PREFIX.pub")(
      "no-password", "store the secret key unencrypted (like minisign -W); for CI keys held in a vault")(
      "force", "overwrite existing key files")("json", "machine-readable output");
  po::positional_options_description pos;
  auto p = parse_args(argc, argv, "airlock keygen --out PREFIX [--no-password] [--force]",
                      "Creates an Ed25519 signing key pair in minisign's formats: PREFIX.key (the secret key,\n"
                      "encrypted with a password via scrypt unless --no-password) and PREFIX.pub (share it;\n"
                      "its base64 line goes into a site's trust.toml). Stock minisign can use both files.\n"
                      "The password comes from the file named by AIRLOCK_PASSWORD_FILE, or a prompt on the terminal.",
                      opts, pos, "  airlock keygen --out keys/hq-2026\n  airlock keygen --out ci --no-password\n");
  if (p.exit_now) return *p.exit_now;
  bool json = p.vm.count("json") > 0;
  std::string prefix = p.vm["out"].as<std::string>();
  std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  if (!p.vm.count("force")) {
    for (const auto& f : {key_path, pub_path})
      if (exists(f))
        return report_error("keygen", Error(ErrorClass::usage, "'" + f + "' exists; pass --force to overwrite"), json);
  }
  std::optional<std::string> password;
  if (!p.vm.count("no-password")) {
    auto pw = ask_new_password(key_path);
    if (!pw) return report_error("keygen", pw.error(), json);
    password = *pw;
  }
  auto sk = minisign::generate_key();
  auto sk_text = minisign::format_secret_key_file(sk, password);
  if (!sk_text) return report_error("keygen", sk_text.error(), json);
  if (auto s = write_file_atomic(key_path, *sk_text, 0600, Perms::exact); !s)
    return report_error("keygen", s.error(), json);
  auto pk = sk.public_key();
  if (auto s = write_file_atomic(pub_path, minisign::format_public_key_file(pk), 0644); !s)
    return report_error("keygen", s.error(), json);
  std::string id = minisign::key_id_hex(pk.key_id);
  if (json) {
    print_input_json({{"ok", true},
                      {"key_id", id},
                      {"secret_key", key_path},
                      {"public_key", pub_path},
                      {"public_key_base64", minisign::public_key_base64(pk)},
                      {"encrypted", password.has_value()}});
  } else {
    std::cout << "key id      " << id << "\nsecret key  " << key_path
              << (password ? " (encrypted)" : " (NOT encrypted)") << "\npublic key  " << pub_path
              << "\ntrust line  public_key = \"" << minisign::public_key_base64(pk) << "\"\n";
  }
  return 0;
}

namespace {

nlohmann::json delta_json(const std::optional<bundler::DeltaReport>& d) {
  if (!d) return nullptr;
  return {{"base", d->base}, {"left_out_blobs", d->left_out_blobs}, {"saved_bytes", d->saved_bytes}};
}

}  // namespace

int cmd_build(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("recipe", po::value<std::string>()->required(), "release recipe (TOML, see docs/recipe.md)")(
      "key,k", po::value<std::vector<std::string>>()->required(), "secret key file; repeat for several signers")(
      "out,o", po::value<std::string>()->required(), "bundle to write (appears only when complete)")(
      "level", po::value<int>(), "zstd level (default: the recipe's, else 3)")(
      "threads", po::value<int>()->default_value(0), "compression threads (0 = all cores)")(
      "split", po::value<std::string>(),
      "SIZE: write FILE.part0001, .part0002, ... of at most SIZE bytes each (2G, 700M, or fat32 = 4 GiB - 1)")(
      "force", "with --split: allow parts of 4 GiB or more (they fit no FAT32 stick)")(
      "base", po::value<std::string>(),
      "FULL_BUNDLE: build a delta that leaves out the image blobs this bundle's images reach")(
      "json", "machine-readable report on stdout");
  po::positional_options_description pos;
  pos.add("recipe", 1);
  auto p = parse_args(
      argc, argv,
      "airlock build RECIPE.toml --key K.key [--key K2.key ...] --out FILE [--split SIZE] [--base FULL_BUNDLE]",
      "Builds one signed, reproducible tar.zst bundle (spec: shared/spec/bundle-format.md) from\n"
      "a release recipe. Refuses (exit 20) a release that breaks a rule: a migration whose\n"
      "reverse does not undo it, missing English notes, a config delta that does not parse, ...\n"
      "`created` comes from the recipe or SOURCE_DATE_EPOCH: same inputs, same bytes.\n"
      "--split cuts the bundle for sticks whose files are limited (FAT32: 4 GiB - 1): the parts'\n"
      "concatenation is the bundle, and verify, scan, apply and stage take FILE (the parts' base\n"
      "name) and read them in order, never joined on disk. Part 1 keeps 128 KiB spare, so that\n"
      "`airlock sign FILE` (which rewrites part 1 only) still fits.\n"
      "--base (or the recipe's [delta] base) builds a delta: the image layers and configs the\n"
      "base bundle's images reach stay out; a site takes it when its image store holds them.",
      opts, pos,
      "  airlock build manifests/example/recipe.toml --key keys/demo-hq.key --out demo-1.1.0.tar.zst\n"
      "  airlock build recipe.toml --key hq.key --out demo-2.0.0.tar.zst --split fat32\n"
      "  airlock build recipe.toml --key hq.key --out demo-2.0.0-delta.tar.zst --base demo-1.9.0.tar.zst\n");
  if (p.exit_now) return *p.exit_now;
  bool json = p.vm.count("json") > 0;
  bundler::BuildRequest req;
  req.recipe_path = p.vm["recipe"].as<std::string>();
  req.out_path = p.vm["out"].as<std::string>();
  // The keys are decrypted (passwords asked) only after the recipe passed every check.
  req.load_keys = [paths = p.vm["key"].as<std::vector<std::string>>()]() -> Result<std::vector<minisign::SecretKey>> {
    std::vector<minisign::SecretKey> keys;
    for (const auto& k : paths) {
      auto sk = load_secret_key(k);
      if (!sk) return fail(sk.error());
      keys.push_back(*sk);
    }
    return keys;
  };
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde && *sde) {
    auto v = parse_integer(sde, 0, std::numeric_limits<std::int64_t>::max(), "SOURCE_DATE_EPOCH");
    if (!v) return report_error("build", v.error(), json);
    req.source_date_epoch = *v;
  }
  if (p.vm.count("level")) req.level = p.vm["level"].as<int>();
  req.workers = p.vm["threads"].as<int>();
  if (p.vm.count("base")) req.base_path = p.vm["base"].as<std::string>();
  if (p.vm.count("split")) {
    auto size = bundler::parse_split_size(p.vm["split"].as<std::string>());
    if (!size) return report_error("build", size.error(), json);
    req.split_bytes = *size;
    req.split_force = p.vm.count("force") > 0;
  } else if (p.vm.count("force")) {
    return report_error("build", Error(ErrorClass::usage, "--force is for --split"), json);
  }
  Progress progress("building");
  req.on_progress = [&](const bundler::BuildProgress& e) {
    progress.update(e.bytes_done, e.bytes_total, e.current_file);
  };
  auto r = bundler::build(req);
  progress.done();
  if (!r) return report_error("build", r.error(), json);
  const auto& m = r->manifest;
  if (json) {
    print_input_json({{"ok", true},
                      {"bundle", req.out_path},
                      {"product", m.release.product},
                      {"version", m.release.version.text},
                      {"manifest_sha256", r->manifest_sha256},
                      {"signed_by", r->key_ids},
                      {"files", m.files.size()},
                      {"payload_bytes", r->payload_bytes},
                      {"bundle_bytes", r->bundle_bytes},
                      {"parts", r->parts},
                      {"delta", delta_json(r->delta)}});
  } else {
    std::cout << "built " << printable(req.out_path) << ": " << printable(m.release.product) << " "
              << printable(m.release.version.text) << ", " << m.files.size() << " files, "
              << human_bytes(r->payload_bytes) << " payload -> " << human_bytes(r->bundle_bytes) << "\nmanifest sha256 "
              << r->manifest_sha256 << "\nsigned by";
    for (const auto& id : r->key_ids) std::cout << " " << id;
    std::cout << "\n";
    if (!r->parts.empty()) std::cout << "split into " << r->parts.size() << " parts:\n";
    for (const auto& part : r->parts) std::cout << "  " << printable(part) << "\n";
    if (r->delta)
      std::cout << "delta from " << printable(r->delta->base) << ": " << r->delta->left_out_blobs
                << (r->delta->left_out_blobs == 1 ? " image blob" : " image blobs") << " left out, "
                << human_bytes(r->delta->saved_bytes) << " saved\n";
  }
  return 0;
}

int cmd_sign(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("bundle", po::value<std::string>()->required(), "bundle to sign")(
      "key,k", po::value<std::string>(), "secret key to sign with")(
      "signature", po::value<std::string>(), "attach this .minisig instead (made with `minisign -S -m manifest.toml`)")(
      "out,o", po::value<std::string>(), "write the signed bundle here (default: in place, atomically)")(
      "json", "machine-readable report on stdout");
  po::positional_options_description pos;
  pos.add("bundle", 1);
  auto p = parse_args(argc, argv, "airlock sign BUNDLE (--key K.key | --signature FILE.minisig) [--out FILE]",
                      "Adds one signature to a bundle, for threshold signing by several people at different\n"
                      "times. Only the manifest-and-signatures frames are rewritten; the payload frames are\n"
                      "copied byte for byte, never recompressed. A signature made elsewhere (stock minisign on\n"
                      "an offline laptop, over the bundle's manifest.toml) is attached with --signature.",
                      opts, pos,
                      "  airlock sign demo-1.1.0.tar.zst --key keys/demo-hq2.key\n"
                      "  tar --zstd -xf demo-1.1.0.tar.zst manifest.toml && minisign -S -s my.key -m manifest.toml\n"
                      "  airlock sign demo-1.1.0.tar.zst --signature manifest.toml.minisig\n");
  if (p.exit_now) return *p.exit_now;
  bool json = p.vm.count("json") > 0;
  if (p.vm.count("key") == p.vm.count("signature"))
    return report_error("sign", Error(ErrorClass::usage, "give exactly one of --key and --signature"), json);
  bundler::SignRequest req;
  req.bundle_path = p.vm["bundle"].as<std::string>();
  if (p.vm.count("out")) req.out_path = p.vm["out"].as<std::string>();
  if (p.vm.count("key")) {
    auto sk = load_secret_key(p.vm["key"].as<std::string>());
    if (!sk) return report_error("sign", sk.error(), json);
    req.key = *sk;
  } else {
    auto text =
        read_file(p.vm["signature"].as<std::string>(), minisign::kMaxSignatureFileBytes, ErrorClass::not_authentic);
    if (!text) return report_error("sign", text.error(), json);
    req.signature_file_contents = *text;
  }
  auto r = bundler::sign(req);
  if (!r) return report_error("sign", r.error(), json);
  std::string out = req.out_path.value_or(req.bundle_path);
  if (json) {
    print_input_json({{"ok", true}, {"bundle", out}, {"added", r->key_id}, {"signatures", r->key_ids}});
  } else {
    std::cout << "added signature " << r->key_id << " to " << printable(out) << "; signatures now:";
    for (const auto& id : r->key_ids) std::cout << " " << id;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace airlock::cli
