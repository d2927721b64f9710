// Text that leaves airlock: on the terminal, in JSON, in history and in the audit log. Names,
// error texts, check details and notes come from bundles, site files, SQLite and the environment,
// and may hold bytes that are not UTF-8 (nlohmann's dump() throws on them) or escape sequences
// (an entry name could paint a fake "VERIFIED" on a terminal). printable() is the one function
// that turns any bytes into valid UTF-8 with no control character:
//   - an invalid byte (stray continuation, overlong form, surrogate, past U+10FFFF, cut-short
//     sequence) becomes \xHH, one per byte;
//   - a control character (C0, DEL, C1 U+0080..U+009F) becomes \u00HH;
//   - a backslash becomes \\, so that every escape above is unambiguous;
//   - every other valid UTF-8 sequence (accents, CJK, emoji) passes unchanged.
// Where it is applied, exactly once per text (a second pass would double the backslashes):
//   - Error messages and contexts are made printable when the Error is built (core/error.hpp),
//     so every error text is safe wherever it goes: terminal, --json, history, audit;
//   - texts that are stored (check details, who started a run) are made printable where they
//     are made, so history, the audit log and state.db hold printable text only;
//   - the cli makes printable every input it quotes as it is (bundle entries and fields, trust
//     roots, recipes): print_input_json() walks the whole JSON document, human output calls
//     printable() on each such string (cli/common.hpp).
// Newlines: a one-line text (a name, an error) escapes them like any control character. Release
// notes are multi-line data shown as they are written: Newlines::keep keeps LF and tab there and
// still escapes every other control character (ESC, CR, C1).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace airlock {

enum class Newlines { escape, keep };

[[nodiscard]] std::string printable(std::string_view s, Newlines nl = Newlines::escape);

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when the bytes there are not valid
// UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i);

}  // namespace airlock
