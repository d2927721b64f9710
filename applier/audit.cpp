#include "applier/audit.hpp"

#include "core/hash.hpp"

namespace airlock::applier {
namespace {

std::string entry_hash(std::int64_t seq, const std::string& at, const std::string& kind, const std::string& data,
                       const std::string& prev) {
  std::string msg = "airlock-audit/1\n" + std::to_string(seq) + "\n" + at + "\n" + kind + "\n" + data + "\n" + prev;
  return to_hex(sha256(msg));
}

}  // namespace

Result<std::string> audit_append(StateDb& st, const std::string& at, const std::string& kind, const std::string& data) {
  AIRLOCK_TRY(auto last, st.audit_last(), "audit log");
  AuditEntry e;
  e.seq = last ? last->seq + 1 : 1;
  e.prev_hash = last ? last->hash : "";
  e.at = at;
  e.kind = kind;
  e.data = data;
  e.hash = entry_hash(e.seq, at, kind, data, e.prev_hash);
  AIRLOCK_CHECK(st.audit_insert(e), "audit log");
  return e.hash;
}

Result<AuditExport> audit_read(StateDb& st) {
  AuditExport out;
  AIRLOCK_TRY(out.entries, st.audit_entries(), "audit log");
  if (!out.entries.empty()) out.head = out.entries.back().hash;
  return out;
}

airlock::Status audit_check(const AuditExport& log) {
  std::string prev;
  std::int64_t expect_seq = 1;
  for (const auto& e : log.entries) {
    std::string where = "audit entry " + std::to_string(e.seq) + " (" + e.kind + " at " + e.at + ")";
    if (e.seq != expect_seq)
      return fail(ErrorClass::audit_broken, where + ": expected sequence number " + std::to_string(expect_seq) +
                                                " (an entry was removed or reordered)");
    if (e.prev_hash != prev)
      return fail(ErrorClass::audit_broken, where + ": previous-hash link does not match the entry before it");
    if (entry_hash(e.seq, e.at, e.kind, e.data, e.prev_hash) != e.hash)
      return fail(ErrorClass::audit_broken, where + ": content does not match its hash (the entry was edited)");
    prev = e.hash;
    ++expect_seq;
  }
  return {};
}

}  // namespace airlock::applier
