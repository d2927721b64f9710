// The audit spool: entries the site could not take when they happened (the site lock was held by
// a run), kept durably until the next command that holds the lock records them.
//
// The Updates page meets a busy site whenever an apply runs; an operator's login or upload during
// it must still land in the tamper-evident log, even if the server is killed or the power fails
// before the apply ends. So such an entry is appended to <state_dir>/audit-spool (fsync'd, under
// flock, no site lock needed), and open_site records every spooled entry, in order and with the
// time it happened, before the command does anything else.
//
// The file is versioned text: a first line "airlock-audit-spool/1 <random tag>", then one JSON
// object per line {"at", "kind": "page", "data"} (data's "via" is "page"). Only the page's own
// entries are taken as entries; a line cut short by a crash, or any other line, is recorded as
// what it is: an entry "spool" naming the damage, never dropped silently and never guessed at.
// A spool of another version is left alone.
//
// Crash safety of the draining: the entries and a state key naming the drained bytes (size and
// SHA-256) are committed in one transaction; the file is emptied after. A drain that finds the
// file still starting with bytes the key names skips them: a crash between the commit and the
// emptying records nothing twice.
#pragma once

#include <string>

#include "applier/site.hpp"
#include "core/error.hpp"

namespace airlock::applier {

class StateDb;

inline constexpr const char* kAuditSpoolHeader = "airlock-audit-spool/1";

std::string audit_spool_file(const Site& s);

// Appends one entry to the spool (creating it with its header); durable when it returns, and
// when it fails the file is as it was.
[[nodiscard]] Status spool_audit_entry(const Site& s, const std::string& at, const std::string& kind,
                                       const std::string& data);

// Records every spooled entry into the audit log (the site lock held by the caller); how many. A
// damaged line is recorded at `now` as an entry "spool" saying so; a spool of another version is
// malformed (left as it is); an I/O error is io.
[[nodiscard]] Result<int> drain_audit_spool(const Site& s, StateDb& st, const std::string& now);

// How many entries wait in the spool (0 when there is none).
std::int64_t count_spooled(const Site& s);

}  // namespace airlock::applier
