// The append-only audit log in state.db: every entry carries the hash of the previous one,
//   hash = SHA-256("airlock-audit/1\n" seq "\n" at "\n" kind "\n" data "\n" prev_hash),
// so an edited, removed or reordered entry breaks the chain; the head hash (printed by status and
// every export) lets an auditor holding an earlier export detect a truncated or rewritten tail.
// A chain alone can be cut short or recomputed, so the site also keeps a head record
// {count, hash} in state.db's kv, written in the same transaction as every append, and every
// history row and release must have its audit entry; `audit verify` checks all three.
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
// audit_check, then the log against the head record, history and the release table
// (ErrorClass::audit_broken naming what disagrees).
[[nodiscard]] airlock::Status audit_check_site(StateDb& st, const AuditExport& log);
// The head record as "<count> <hash>" ("0" before the first entry): what status shows and the
// hooks see as AIRLOCK_AUDIT_HEAD.
std::string audit_head_record(StateDb& st);

}  // namespace airlock::applier
