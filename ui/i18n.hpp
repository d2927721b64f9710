// The page's words in en, pt-BR and es. The language comes from the operator's switch, else the
// first supported tag in Accept-Language, else en.
#pragma once

#include <string>
#include <string_view>

namespace airlock::ui {

inline constexpr const char* kLanguages[] = {"en", "pt-BR", "es"};

// The supported language a tag or an Accept-Language header names first ("en" when none).
std::string pick_language(std::string_view accept_language);
// A supported language exactly as given ("" when it is not one).
std::string supported_language(std::string_view tag);
// The text of `key` in `lang`; the English text when the key has no translation, the key itself
// when it is unknown (a missing word shows, it does not crash the page).
std::string tr(const std::string& lang, std::string_view key);

}  // namespace airlock::ui
