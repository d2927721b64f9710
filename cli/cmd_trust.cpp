// `airlock trust init|add|revoke|show`: manage a site's trust root file (spec §6). Every change is
// written atomically; the file is re-parsed before it is replaced, so a bad edit never lands.
#include <unistd.h>

#include <cstdint>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"

namespace airlock::cli {

namespace {

const char* kTrustUsage =
    "airlock trust init FILE --key K.pub [--name N] [--threshold N]\n"
    "       airlock trust add FILE --key K.pub --name N [--not-before T] [--not-after T]\n"
    "       airlock trust revoke FILE (--name N | --key-id ID)\n"
    "       airlock trust threshold FILE N\n"
    "       airlock trust show FILE [--json]";

Result<minisign::PublicKey> load_public_key(const std::string& path) {
  AIRLOCK_TRY(auto text, read_file(path, 4096), "reading public key");
  auto pk = minisign::parse_public_key_file(text);
  if (!pk) {
    // Also accept a bare base64 line.
    auto line = text.substr(0, text.find('\n'));
    pk = minisign::parse_public_key_base64(line);
  }
  if (!pk) return fail(ErrorClass::usage, "'" + path + "' is not a minisign public key");
  return *pk;
}

Result<TrustRoot> load_root(const std::string& path) {
  AIRLOCK_TRY(auto text, read_file(path, kMaxTrustRootBytes), "");
  auto t = parse_trust_root(text, ErrorClass::usage);
  if (!t) return fail(std::move(t).error().with_context("trust root '" + path + "'"));
  return *t;
}

Status save_root(const std::string& path, const TrustRoot& t) {
  std::string text = render_trust_root(t);
  AIRLOCK_CHECK(parse_trust_root(text, ErrorClass::usage).map([](auto&&) {}), "refusing to write an invalid trust root");
  return write_file_atomic(path, text, 0644);
}

// Every edit is a new root: its serial goes up by one, so a site that installed it never takes
// the older one back from a bundle's [trust_update] (spec §6).
Status save_edited_root(const std::string& path, TrustRoot t) {
  if (t.serial == INT64_MAX) return fail(ErrorClass::usage, "the serial of '" + path + "' cannot go higher");
  ++t.serial;
  return save_root(path, t);
}

Result<std::optional<Timestamp>> opt_time(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::optional<Timestamp>{};
  auto t = parse_rfc3339(vm[name].as<std::string>());
  if (!t) return fail(ErrorClass::usage, std::string("--") + name + ": not an RFC 3339 time");
  return std::optional<Timestamp>(*t);
}

// A trust-root key from --key, --name (default "key-<ID>"), --not-before and --not-after.
Result<TrustKey> key_from_options(const po::variables_map& vm) {
  AIRLOCK_TRY(auto pk, load_public_key(vm["key"].as<std::string>()), "--key");
  TrustKey k;
  k.key = pk;
  k.name = vm.count("name") ? vm["name"].as<std::string>() : "key-" + minisign::key_id_hex(pk.key_id);
  AIRLOCK_TRY(k.not_before, opt_time(vm, "not-before"), "--not-before");
  AIRLOCK_TRY(k.not_after, opt_time(vm, "not-after"), "--not-after");
  return k;
}

}  // namespace

int cmd_trust(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()("action", po::value<std::string>()->required(), "init | add | revoke | threshold | show")(
      "file", po::value<std::string>()->required(), "trust root file")("value", po::value<std::string>(), "threshold value")(
      "key,k", po::value<std::string>(), "public key file (.pub)")("name", po::value<std::string>(), "key name")(
      "key-id", po::value<std::string>(), "key id (16 hex digits)")("threshold", po::value<int>()->default_value(1), "for init")(
      "not-before", po::value<std::string>(), "key valid from (RFC 3339)")(
      "not-after", po::value<std::string>(), "key valid until (RFC 3339)")("force", "init: overwrite")("json", "machine-readable output");
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1).add("value", 1);
  auto p = parse_args(
      argc, argv, kTrustUsage,
      "Manages a trust root: the keys a site accepts, their validity windows, revocations and\n"
      "the number of distinct keys that must sign (threshold). Overlapping windows make key\n"
      "rotation seamless. Revoking keeps the key listed, marked revoked. Every add, revoke\n"
      "and threshold raises the root's serial by one: sites install a newer root only.",
      opts, pos,
      "  airlock trust init site/trust.toml --key keys/demo-hq.pub --name hq-2026\n"
      "  airlock trust add site/trust.toml --key hq-2027.pub --name hq-2027 --not-before 2027-01-01T00:00:00Z\n"
      "  airlock trust threshold site/trust.toml 2\n  airlock trust revoke site/trust.toml --name hq-2026\n");
  if (p.exit_now) return *p.exit_now;
  const auto& vm = p.vm;
  bool json = vm.count("json") > 0;
  std::string action = vm["action"].as<std::string>(), file = vm["file"].as<std::string>();
  auto err = [&](const Error& e) { return report_error("trust " + action, e, json); };
  auto need = [&](const char* o) -> std::optional<int> {
    if (vm.count(o)) return std::nullopt;
    return err(Error(ErrorClass::usage, std::string("--") + o + " is required for '" + action + "'"));
  };

  if (action == "init") {
    if (auto e = need("key")) return *e;
    if (!vm.count("force") && ::access(file.c_str(), F_OK) == 0)
      return err(Error(ErrorClass::usage, "'" + file + "' exists; pass --force to replace it"));
    auto k = key_from_options(vm);
    if (!k) return err(k.error());
    TrustRoot t;
    t.threshold = vm["threshold"].as<int>();
    t.keys.push_back(*k);
    if (auto s = save_root(file, t); !s) return err(s.error());
  } else if (action == "add") {
    if (auto e = need("key")) return *e;
    if (auto e = need("name")) return *e;
    auto t = load_root(file);
    if (!t) return err(t.error());
    auto k = key_from_options(vm);
    if (!k) return err(k.error());
    t->keys.push_back(*k);
    if (auto s = save_edited_root(file, *t); !s) return err(s.error());
  } else if (action == "revoke") {
    auto t = load_root(file);
    if (!t) return err(t.error());
    bool found = false;
    for (auto& k : t->keys) {
      bool match = (vm.count("name") && k.name == vm["name"].as<std::string>()) ||
                   (vm.count("key-id") && minisign::key_id_hex(k.key.key_id) == vm["key-id"].as<std::string>());
      if (match) k.revoked = found = true;
    }
    if (!found) return err(Error(ErrorClass::usage, "no key with that --name or --key-id in '" + file + "'"));
    if (auto s = save_edited_root(file, *t); !s) return err(s.error());
  } else if (action == "threshold") {
    if (!vm.count("value")) return err(Error(ErrorClass::usage, "give the new threshold: airlock trust threshold FILE N"));
    auto t = load_root(file);
    if (!t) return err(t.error());
    auto n = parse_integer(vm["value"].as<std::string>(), 1, 16, "threshold");
    if (!n) return err(n.error());
    t->threshold = static_cast<int>(*n);
    if (auto s = save_edited_root(file, *t); !s) return err(s.error());
  } else if (action != "show") {
    return err(Error(ErrorClass::usage, "unknown action '" + action + "'; expected init, add, revoke, threshold or show"));
  }

  auto t = load_root(file);
  if (!t) return err(t.error());
  if (json) {
    nlohmann::json j = {{"ok", true},
                        {"file", file},
                        {"serial", t->serial},
                        {"threshold", t->threshold},
                        {"keys", nlohmann::json::array()}};
    for (const auto& k : t->keys) {
      nlohmann::json e = {{"name", k.name}, {"key_id", minisign::key_id_hex(k.key.key_id)}, {"revoked", k.revoked},
                          {"public_key", minisign::public_key_base64(k.key)}};
      if (k.not_before) e["not_before"] = format_rfc3339(*k.not_before);
      if (k.not_after) e["not_after"] = format_rfc3339(*k.not_after);
      j["keys"].push_back(e);
    }
    print_input_json(j);
  } else {
    std::cout << printable(file) << ": serial " << t->serial << ", threshold " << t->threshold << ", "
              << t->keys.size() << " key(s)\n";
    for (const auto& k : t->keys) {
      std::cout << "  " << minisign::key_id_hex(k.key.key_id) << "  " << printable(k.name);
      if (k.not_before) std::cout << "  from " << format_rfc3339(*k.not_before);
      if (k.not_after) std::cout << "  until " << format_rfc3339(*k.not_after);
      if (k.revoked) std::cout << "  REVOKED";
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace airlock::cli
