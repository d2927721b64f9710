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
  AIRLOCK_TRY(auto rows, st.db().query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"), "audit log");
  std::int64_t seq = 1;
  std::string prev;
  if (!rows.empty()) {
    seq = std::get<std::int64_t>(rows[0][0]) + 1;
    prev = value_text(rows[0][1]);
  }
  std::string h = entry_hash(seq, at, kind, data, prev);
  auto ins = st.db().query("INSERT INTO audit(seq, at, kind, data, prev_hash, hash) VALUES(?, ?, ?, ?, ?, ?)",
                           {seq, at, kind, data, prev, h});
  if (!ins) return fail(ins.error().with_context("appending to the audit log"));
  return h;
}

Result<AuditExport> audit_read(StateDb& st) {
  AIRLOCK_TRY(auto rows, st.db().query("SELECT seq, at, kind, data, prev_hash, hash FROM audit ORDER BY rowid"),
              "reading the audit log");
  AuditExport out;
  for (const auto& r : rows) {
    AuditEntry e;
    if (const auto* i = std::get_if<std::int64_t>(&r[0])) e.seq = *i;
    e.at = value_text(r[1]);
    e.kind = value_text(r[2]);
    e.data = value_text(r[3]);
    e.prev_hash = value_text(r[4]);
    e.hash = value_text(r[5]);
    out.entries.push_back(std::move(e));
  }
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
