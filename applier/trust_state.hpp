// The site's trust history, kept beside its trust root (spec §6). A trust root never moves
// backwards: a release's [trust_update] is installed only when its serial is greater than the
// installed root's. Revocation is sticky: the ids of every key any installed root marked revoked
// are kept in <state_dir>/revoked-keys (one 16-hex key id a line) and count for nothing at this
// site whatever a later root says. The file only grows; it is written atomically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "applier/site.hpp"
#include "core/crypto/minisign.hpp"
#include "core/error.hpp"

namespace airlock::applier {

std::string revoked_keys_path(const Site& s);

// The sticky revocations; none when the file does not exist. A damaged file is a preflight
// failure naming the line: a site must not silently forget a revocation.
[[nodiscard]] Result<std::vector<minisign::KeyId>> load_revoked_keys(const Site& s);

struct TrustRecord {
  enum class Kind { none, installed, stale } kind = Kind::none;
  std::int64_t update_serial = 0;     // the release's root (installed or stale)
  std::int64_t installed_serial = 0;  // the site's root before the record
};

// The record step: remembers every key revoked by the installed root (and by `update` when it is
// installed), then installs `update` (the release's [trust_update] text) when it is newer. Running
// it again after it completed changes nothing (a root equal to the installed one is not stale).
[[nodiscard]] Result<TrustRecord> record_trust(const Site& s, const std::optional<std::string>& update);

struct Ctx;
// record_trust for the run in `c` with its release's [trust_update] (if any); a stale update is
// reported as an event and recorded in the audit log.
[[nodiscard]] airlock::Status record_trust_update(Ctx& c);

}  // namespace airlock::applier
