// The page's only script and style sheet, compiled into the binary (no CDN, no build step).
#pragma once

#include <string_view>

namespace airlock::ui {

extern const std::string_view kAppJs;
extern const std::string_view kAppCss;

}  // namespace airlock::ui
