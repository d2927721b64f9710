// JSON text of a document, never an exception: nlohmann's dump() throws on a string that is not
// UTF-8, and a throw in the middle of recording a run would leave it half recorded. Texts are made
// printable where they are made (core/text.hpp); a stray byte that still slips through becomes
// U+FFFD here instead of an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace airlock {

inline std::string dump_json(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace airlock
