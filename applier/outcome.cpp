// The outcome vocabulary: one word per outcome, and the words older builds wrote into history,
// read as today's (the rows themselves are never rewritten).
#include <array>
#include <utility>

#include "applier/applier.hpp"

namespace airlock::applier {
namespace {

// clang-format off
constexpr std::array<std::pair<Outcome, const char*>, 19> kWords = {{
  {Outcome::applied,       "applied"},
  {Outcome::rolled_back,   "rolled_back"},
  {Outcome::reverted,      "reverted"},
  {Outcome::restored,      "restored"},
  {Outcome::degraded,      "degraded"},
  {Outcome::aborted,       "aborted"},
  {Outcome::refused,       "refused"},
  {Outcome::recovered_old, "recovered_old"},
  {Outcome::recovered_new, "recovered_new"},
  {Outcome::discarded,     "discarded"},
  {Outcome::nothing_to_do, "nothing_to_do"},
  {Outcome::acknowledged,  "acknowledged"},
  {Outcome::skipped,       "skipped"},
  {Outcome::unskipped,     "unskipped"},
  {Outcome::delayed,       "delayed"},
  {Outcome::feed_accepted, "feed_accepted"},
  {Outcome::scheduled,     "scheduled"},
  {Outcome::cancelled,     "cancelled"},
  {Outcome::missed,        "missed"},
}};

// History rows of state.db schemas 1 and 2. "crash-recovered" was written for every recovery that
// did not finish the new release (a recovery that did was written "applied").
constexpr std::array<std::pair<const char*, Outcome>, 6> kOlderWords = {{
  {"auto-rollback",    Outcome::rolled_back},
  {"manual-rollback",  Outcome::reverted},
  {"snapshot-restore", Outcome::restored},
  {"rollback-failed",  Outcome::degraded},
  {"crash-recovered",  Outcome::recovered_old},
  {"discarded-run",    Outcome::discarded},
}};
// clang-format on

}  // namespace

const char* outcome_name(Outcome o) {
  for (const auto& [outcome, word] : kWords)
    if (outcome == o) return word;
  return "?";
}

std::optional<Outcome> parse_outcome(std::string_view word) {
  for (const auto& [outcome, w] : kWords)
    if (word == w) return outcome;
  for (const auto& [w, outcome] : kOlderWords)
    if (word == w) return outcome;
  return std::nullopt;
}

std::optional<ErrorClass> report_class(const RunReport& r) {
  if (r.outcome == Outcome::rolled_back) return ErrorClass::rolled_back;
  if (r.outcome == Outcome::degraded) return ErrorClass::rollback_failed;
  return std::nullopt;
}

}  // namespace airlock::applier
