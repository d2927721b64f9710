// The site's trust history, kept beside its trust root (spec §6). A trust root never moves
// backwards: a release's [trust_update] is installed only when its serial is greater than the
// installed root's. Revocation is sticky: the ids of every key any installed root marked revoked
// are kept in <state_dir>/revoked-keys (one 16-hex key id a line) and count for nothing at this
// site whatever a later root says. The file only grows; it is written atomically.
// A root that a newer one replaces is archived first, as <state_dir>/trust-archive/trust.<serial>.toml,
// never overwritten: the auditor's record of every root the site trusted. Nothing puts it back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "core/crypto/minisign.hpp"
#include "core/error.hpp"

namespace airlock::applier {

std::string revoked_keys_path(const Site& s);
std::string trust_archive_dir(const Site& s);

// The sticky revocations; none when the file does not exist. A damaged file is a preflight
// failure naming the line: a site must not silently forget a revocation.
[[nodiscard]] Result<std::vector<minisign::KeyId>> load_revoked_keys(const Site& s);

struct TrustRecord {
  enum class Kind { none, installed, stale } kind = Kind::none;
  std::int64_t update_serial = 0;     // the release's root (installed or stale)
  std::int64_t installed_serial = 0;  // the site's root before the record
  // When installed: the ids (16 hex) of the keys the new root adds, drops and newly marks revoked,
  // and the file the replaced root is archived in.
  std::vector<std::string> added, removed, revoked;
  std::string archive;
};
// Runs when a newer root is about to be installed: the old one is archived and the revocations
// are kept, the root file is not yet replaced. A failure leaves the old root installed.
using BeforeInstall = std::function<airlock::Status(const TrustRecord&)>;

// The record step: remembers every key revoked by the installed root (and by `update` when it is
// installed), then installs `update` (the release's [trust_update] text) when it is newer. Running
// it again after it completed changes nothing (a root equal to the installed one is not stale).
[[nodiscard]] Result<TrustRecord> record_trust(const Site& s, const std::optional<std::string>& update,
                                               const BeforeInstall& before_install = {});

// Status's warning: the first moment in [now, now + 90 days] at which fewer than `threshold` keys
// of the installed root are valid (not revoked, by the root or stickily, and within their windows),
// with the keys valid at `now` whose window ends before the horizon. nullopt: no such moment.
[[nodiscard]] Result<std::optional<TrustExpiry>> trust_expiry(const Site& s, const Timestamp& now);

struct Ctx;
// record_trust for the run in `c` with its release's [trust_update] (if any). An installed one
// is recorded in the audit log (`trust-root-installed`: old and new serials, the key ids added,
// removed and revoked, the archive) before the root file is replaced, once per run; a stale one
// is reported as an event and recorded as `trust-update-ignored`.
[[nodiscard]] airlock::Status record_trust_update(Ctx& c);

}  // namespace airlock::applier
