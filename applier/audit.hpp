// The append-only audit log in state.db: every entry carries the hash of the previous one,
//   hash = SHA-256("airlock-audit/1\n" seq "\n" at "\n" kind "\n" data "\n" prev_hash),
// so an edited, removed or reordered entry breaks the chain; the head hash (printed by status and
// every export) lets an auditor holding an earlier export detect a truncated or rewritten tail.
#pragma once

#include <string>

#include "applier/applier.hpp"
#include "applier/state_db.hpp"

namespace airlock::applier {

// Appends within the caller's transaction (if any); returns the new head hash.
[[nodiscard]] Result<std::string> audit_append(StateDb& st, const std::string& at, const std::string& kind,
                                               const std::string& data);
[[nodiscard]] Result<AuditExport> audit_read(StateDb& st);
// ErrorClass::audit_broken naming the first bad entry.
[[nodiscard]] airlock::Status audit_check(const AuditExport& log);

}  // namespace airlock::applier
