#include "applier/audit.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "core/crypto/hash.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

constexpr const char* kHeadKey = "audit_head";

std::string entry_hash(std::int64_t seq, const std::string& at, const std::string& kind, const std::string& data,
                       const std::string& prev) {
  std::string msg = "airlock-audit/1\n" + std::to_string(seq) + "\n" + at + "\n" + kind + "\n" + data + "\n" + prev;
  return to_hex(sha256(msg));
}

std::string head_text(std::int64_t count, const std::string& hash) { return std::to_string(count) + " " + hash; }

Result<std::string> append_entry(StateDb& st, const std::string& at, const std::string& kind, const std::string& data) {
  AIRLOCK_TRY(auto last, st.audit_last(), "audit log");
  AuditEntry e;
  e.seq = last ? last->seq + 1 : 1;
  e.prev_hash = last ? last->hash : "";
  e.at = at;
  e.kind = kind;
  e.data = data;
  e.hash = entry_hash(e.seq, at, kind, data, e.prev_hash);
  AIRLOCK_CHECK(st.audit_insert(e), "audit log");
  AIRLOCK_CHECK(st.set(kHeadKey, head_text(e.seq, e.hash)), "appending to the audit log");
  return e.hash;
}

// The log's run entries (those with an outcome) by run id.
std::map<std::string, std::pair<const AuditEntry*, json>> run_entries(const AuditExport& log) {
  std::map<std::string, std::pair<const AuditEntry*, json>> out;
  for (const auto& e : log.entries) {
    auto j = json::parse(e.data, nullptr, false);
    if (j.is_object() && j.contains("outcome") && j.contains("run") && j["run"].is_string())
      out[j["run"].get<std::string>()] = {&e, j};
  }
  return out;
}

airlock::Status check_head(StateDb& st, const AuditExport& log) {
  AIRLOCK_TRY(auto rec, st.get(kHeadKey), "reading the audit head record");
  const auto count = static_cast<std::int64_t>(log.entries.size());
  if (rec.empty() && count == 0) return {};
  if (rec.empty())
    return fail(ErrorClass::audit_broken,
                "the head record is missing, yet the log holds " + std::to_string(count) + " entries");
  if (rec != head_text(count, log.head))
    return fail(ErrorClass::audit_broken, "the log ends at " + head_text(count, log.head) +
                                              " (entries, head hash) but the head record says " + rec +
                                              " (entries were removed from the end, or the chain was rewritten)");
  return {};
}

airlock::Status check_history(StateDb& st, const AuditExport& log) {
  const auto runs = run_entries(log);
  AIRLOCK_TRY(auto rows, st.history(), "reading history");
  for (const auto& h : rows) {
    const std::string what =
        "history run " + h.run_id + " (" + h.outcome + ", '" + h.from_version + "' -> '" + h.to_version + "')";
    auto it = runs.find(h.run_id);
    if (it == runs.end()) return fail(ErrorClass::audit_broken, what + " has no audit entry (it was removed)");
    const auto& [e, j] = it->second;
    // An entry of an older build holds that build's word, as its history row does.
    const std::string word = j.value("outcome", "");
    const auto logged = parse_outcome(word);
    if ((logged ? outcome_name(*logged) : word) != h.outcome || j.value("from", "") != h.from_version ||
        j.value("to", "") != h.to_version)
      return fail(ErrorClass::audit_broken, "audit entry " + std::to_string(e->seq) + " says " + e->data + ", unlike " +
                                                what + " (one of them was edited)");
  }
  return {};
}

airlock::Status check_releases(StateDb& st, const AuditExport& log) {
  const auto runs = run_entries(log);
  AIRLOCK_TRY(auto rows, st.releases(), "reading releases");
  for (const auto& r : rows) {
    bool found = false;
    for (const auto& [run, entry] : runs) found |= entry.second.value("to", "") == r.version;
    if (!found)
      return fail(ErrorClass::audit_broken, "release " + r.version + " (installed " + r.installed_at +
                                                ") has no audit entry of the run that installed it");
  }
  return {};
}

}  // namespace

Result<std::string> audit_append(StateDb& st, const std::string& at, const std::string& kind, const std::string& data) {
  // A savepoint nests in the caller's transaction and makes one of its own otherwise: the entry
  // and the head record are written together or not at all.
  AIRLOCK_CHECK(st.savepoint("audit_append"), "audit log");
  auto h = append_entry(st, at, kind, data);
  airlock::Status done = h ? st.release_savepoint("audit_append") : airlock::Status(fail(h.error()));
  if (done) return h;
  // Undo what is left. An I/O error may already have rolled everything back (then the savepoint is
  // gone and these fail too): the error to report is the first one.
  st.undo_savepoint("audit_append");
  return fail(done.error().with_context("audit log"));
}

std::string audit_head_record(StateDb& st) {
  auto rec = st.get(kHeadKey);
  return rec && !rec->empty() ? *rec : "0";
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

airlock::Status audit_check_site(StateDb& st, const AuditExport& log) {
  AIRLOCK_CHECK(audit_check(log), "audit log");
  AIRLOCK_CHECK(check_head(st, log), "audit head");
  AIRLOCK_CHECK(check_history(st, log), "audit against history");
  return check_releases(st, log).map_error([](Error e) { return e.with_context("audit against releases"); });
}

}  // namespace airlock::applier
