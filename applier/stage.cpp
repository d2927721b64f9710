// Staging a bundle at a site and applying a staged release (staged.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "applier/audit.hpp"
#include "applier/feed_store.hpp"
#include "applier/files.hpp"
#include "applier/lifecycle.hpp"
#include "applier/staged_store.hpp"
#include "applier/trust_state.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/model/trust.hpp"
#include "core/sys/fs.hpp"
#include "verifier/kept.hpp"

namespace airlock::applier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

}  // namespace

Result<verifier::Request> site_request(const Ctx& c, const std::string& installed) {
  AIRLOCK_TRY(auto text, read_file(c.site.trust_root, kMaxTrustRootBytes, ErrorClass::usage), "trust root");
  AIRLOCK_TRY(auto root, parse_trust_root(text, ErrorClass::usage), "trust root '" + c.site.trust_root + "'");
  verifier::Request req;
  req.trust = std::move(root);
  AIRLOCK_TRY(req.revoked_keys, load_revoked_keys(c.site), "revoked keys");
  req.policy.product = c.site.product;
  req.policy.channel = c.site.channel;
  req.policy.at = c.env.now();
  if (!installed.empty()) {
    AIRLOCK_TRY(auto v, parse_semver(installed), "installed version in state.db");
    req.policy.installed = v;
  }
  req.stop = [&c] { return c.env.interrupted() != 0; };
  return req;
}

namespace {

Status refuse_unusable(const Ctx& c, const Manifest& m, const std::string& installed) {
  if (!installed.empty() && m.release.version.text == installed)
    return fail(ErrorClass::policy,
                "release " + installed + " is already installed on site '" + c.site.name + "'; nothing to stage");
  if (installed.empty() && m.delta_base)
    return fail(ErrorClass::policy, "release " + m.release.version.text + " is a [delta] release (base " +
                                        *m.delta_base + "); a site with nothing installed needs a full release");
  AIRLOCK_TRY(auto free, free_bytes(staged_root(c.site)), "staging");
  if (free < m.total_size() + (1u << 20))
    return fail(ErrorClass::io, "not enough room to stage release " + m.release.version.text + " in '" +
                                    staged_root(c.site) + "': need " + std::to_string(m.total_size()) + " bytes, " +
                                    std::to_string(free) + " free");
  return {};
}

Status sync_tree(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return fail(errno_error("open", dir, errno));
  if (::syncfs(fd.get()) != 0) return fail(errno_error("syncfs", dir, errno));
  return {};
}

// The head beside the payload the verifier extracted, then one sync and the rename into place.
Result<StagedRelease> keep(Ctx& c, const verifier::Report& rep, const std::string& partial) {
  AIRLOCK_CHECK(write_file_atomic(partial + "/manifest.toml", rep.manifest_text), "keeping the manifest");
  AIRLOCK_CHECK(make_dirs(partial + "/signatures"), "keeping the signatures");
  std::vector<std::string> counted;
  for (std::size_t i = 0; i < rep.signature_texts.size(); ++i) {
    const auto& s = rep.signatures.at(i);
    if (s.counted) counted.push_back(s.key_id);
    AIRLOCK_CHECK(write_file_atomic(partial + "/signatures/" + s.key_id + ".minisig", rep.signature_texts[i]),
                  "keeping the signatures");
  }
  const std::string record =
      record_json({rep.bundle_sha256, rep.manifest, rep.manifest_sha256, counted, c.now(), rep.bundle_bytes});
  AIRLOCK_CHECK(write_file_atomic(partial + "/record.json", record), "keeping the record");
  AIRLOCK_CHECK(sync_tree(partial), "staging");
  AIRLOCK_CHECK(rename_path(partial, staged_dir(c.site, rep.bundle_sha256)), "staging");
  AIRLOCK_CHECK(fsync_dir(staged_root(c.site)), "staging");
  return read_staged(c.site, rep.bundle_sha256);
}

Result<verifier::Report> verify_into(Ctx& c, const std::string& bundle, const std::string& partial) {
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "state");
  AIRLOCK_TRY(auto req, site_request(c, installed), "site '" + c.site.name + "'");
  req.bundle_path = bundle;
  req.staging_dir = partial + "/payload";
  req.whole_file_sha256 = true;
  AIRLOCK_CHECK(use_accepted_feed(c), "site '" + c.site.name + "'");
  req.feed = c.env.feed;
  req.on_manifest = [&](const Manifest& m) -> Status {
    if (auto skipped = refuse_if_skipped(c, m); !skipped) return skipped;
    return refuse_unusable(c, m, installed);
  };
  c.emit("stage", "verifying " + bundle);
  return verifier::verify(req);
}

}  // namespace

Result<StageResult> stage_locked(Ctx& c, const std::string& bundle) {
  AIRLOCK_CHECK(make_private_dir(staged_root(c.site)), "staging");
  const std::string partial = staged_root(c.site) + "/" + new_run_id(c.env) + ".partial";
  AIRLOCK_CHECK(make_private_dir(partial), "staging");
  auto rep = verify_into(c, bundle, partial);
  StageResult out;
  if (rep && fs::exists(staged_dir(c.site, rep->bundle_sha256))) {
    out.already_staged = true;
    AIRLOCK_TRY(out.release, read_staged(c.site, rep->bundle_sha256), "staging");
  } else if (rep) {
    auto kept = keep(c, *rep, partial);
    if (!kept) (void)remove_tree(partial);
    AIRLOCK_TRY(out.release, std::move(kept), "staging");
  }
  (void)remove_tree(partial);
  if (!rep) return fail(rep.error().with_context("verifying '" + bundle + "'"));
  AIRLOCK_TRY(out.removed, prune_staged(c, out.release.sha256), "staging");
  if (!out.already_staged) {
    AIRLOCK_TRY(auto h, audit_append_staged(c, "stage", out.release), "staging");
    (void)h;
  }
  c.emit("stage", "release " + out.release.version + " staged as " + out.release.sha256);
  return out;
}

Result<std::string> audit_append_staged(Ctx& c, const std::string& kind, const StagedRelease& r) {
  return audit_append(c.st, c.now(), kind, dump_json(json({{"sha256", r.sha256}, {"version", r.version}})));
}

bool uses_staged(const Ctx& c) { return c.data.contains("staged"); }

Result<verifier::Report> verify_staged(const Ctx& c, const verifier::Request& req) {
  const std::string sha = c.data.at("staged").get<std::string>();
  const std::string dir = staged_dir(c.site, sha);
  AIRLOCK_TRY(auto rec, read_staged(c.site, sha), "staged release");
  verifier::KeptHead head;
  AIRLOCK_TRY(head.manifest_text, read_file(dir + "/manifest.toml", kMaxManifestBytes, ErrorClass::integrity),
              "staged release");
  // The signatures decide whether it is authentic; this only catches a head swapped for another's.
  if (to_hex(sha256(head.manifest_text)) != rec.manifest_sha256)
    return fail(ErrorClass::integrity, "manifest.toml is not the manifest its record.json names");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir + "/signatures", ec)) {
    AIRLOCK_TRY(auto text, read_file(e.path().string(), minisign::kMaxSignatureFileBytes, ErrorClass::integrity),
                "staged release");
    head.signature_texts.push_back(std::move(text));
  }
  if (ec) return fail(errno_error("listing", dir + "/signatures", ec.value()));
  head.bundle_sha256 = rec.sha256;  // what a feed is matched against
  head.bundle_bytes = rec.bundle_bytes;
  return verifier::verify_kept(req, head, dir + "/payload");
}

Result<StageResult> stage(const std::string& site_toml, const std::string& bundle, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "stage");
  return stage_locked(*o.ctx, bundle);
}

Result<RunReport> run_staged(Ctx& c, const std::string& key, const std::string& run_id,
                             std::optional<std::int64_t> job) {
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "apply");
  c.run = Run{
      run_id,  RunKind::apply,   "preflight", staged_dir(c.site, key), installed, "", "", staging_dir(c.site, run_id),
      c.now(), c.env.started_by, "{}"};
  c.data["steps"] = json::array();
  c.data["signals"] = json::array();
  c.data["staged"] = key;
  if (job) c.data["job"] = *job;
  AIRLOCK_CHECK(c.st.begin_run(c.run), "apply");
  AIRLOCK_TRY(auto rep, drive(c, Phase::preflight), "apply");
  // Installed now (kept under releases/), so the staged copy has done its work.
  if (rep.outcome == Outcome::applied) {
    if (auto s = remove_staged(c.site, key, new_run_id(c.env)); !s)
      c.emit("record", "the staged copy was not removed: " + s.error().what());
  }
  return rep;
}

Result<RunReport> apply_staged(const std::string& site_toml, const std::string& sha, const Env& env) {
  AIRLOCK_TRY(auto o, open_site(site_toml, env, nullptr), "apply");
  AIRLOCK_TRY(auto key, resolve_staged(o.ctx->site, sha), "apply --staged");
  return run_staged(*o.ctx, key, new_run_id(env), std::nullopt);
}

}  // namespace airlock::applier
