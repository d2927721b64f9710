#include "applier/degraded.hpp"

#include "applier/audit.hpp"
#include "applier/run.hpp"
#include "core/json_text.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

std::string since_text(const std::string& since) {
  return since.empty() ? " (since a time an older airlock did not record)" : " since " + since;
}

// The acknowledgement, in one transaction: a history row, its audit entry, the mark cleared.
Result<std::string> record_ack(Ctx& c, const std::string& installed, const std::string& since, const AckReport& r) {
  const std::string id = "ack-" + new_run_id(c.env);
  const std::string detail = "degraded" + since_text(since) + (r.note.empty() ? "" : "; note: " + r.note);
  HistoryRecord h{id,   r.acknowledged_at, r.acknowledged_at, installed,    installed, Outcome::acknowledged, detail,
                  "[]", c.env.started_by,  std::nullopt,      std::nullopt, ""};
  json entry = {{"run", id},
                {"kind", "ack"},
                {"from", installed},
                {"to", installed},
                {"outcome", outcome_name(Outcome::acknowledged)},
                {"detail", detail},
                {"degraded_since", since},
                {"note", r.note}};
  AIRLOCK_CHECK(c.st.begin(), "recording the acknowledgement");
  auto head = [&]() -> Result<std::string> {
    AIRLOCK_CHECK(c.st.add_history(h), "history");
    AIRLOCK_TRY(auto hash, audit_append(c.st, r.acknowledged_at, "ack", dump_json(entry)), "audit log");
    AIRLOCK_CHECK(c.st.clear_degraded(), "clearing the mark");
    return hash;
  }();
  if (!head) {
    c.st.rollback_tx();
    return fail(head.error().with_context("recording the acknowledgement"));
  }
  AIRLOCK_CHECK(c.st.commit(), "recording the acknowledgement");
  c.run.from_version = c.run.to_version = installed;
  if (!run_hook(c, c.site.notify, "notify", "acknowledged", detail))
    (void)audit_append(c.st, c.now(), "notify-failed", dump_json(json({{"run", id}})));
  return head;
}

}  // namespace

Status refuse_if_degraded(StateDb& st, const Site& site) {
  AIRLOCK_TRY(auto since, st.degraded_since(), "site '" + site.name + "'");
  if (!since) return {};
  return fail(ErrorClass::preflight,
              "site degraded" + since_text(*since) + ": run `airlock ack --site " + site.file + "` after repair");
}

Result<AckReport> ack(const std::string& site_toml, const std::string& note, const Env& env) {
  if (note.size() > kMaxAckNoteBytes)
    return fail(ErrorClass::usage, "the note is " + std::to_string(note.size()) + " bytes, more than the limit of " +
                                       std::to_string(kMaxAckNoteBytes));
  // Kept in its Result, not moved out of it: GCC 12 warns, wrongly, that a moved lock may be uninitialized.
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("ack"));
  Ctx& c = *opened->ctx;
  AIRLOCK_TRY(auto since, c.st.degraded_since(), "ack");
  if (!since) return fail(ErrorClass::usage, "site '" + c.site.name + "' is not degraded; nothing to acknowledge");
  AIRLOCK_TRY(auto installed, c.st.get("installed"), "ack");
  AckReport r{c.site.name, *since, c.now(), printable(note), ""};
  AIRLOCK_TRY(r.audit_head, record_ack(c, installed, *since, r), "ack");
  c.emit("ack", "site '" + c.site.name + "' acknowledged; it was degraded" + since_text(*since));
  return r;
}

}  // namespace airlock::applier
