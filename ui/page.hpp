// The HTML of the Updates page and of the login form, rendered on the server. No inline script
// or style: the Content-Security-Policy allows only /assets/app.js and /assets/app.css.
#pragma once

#include <string>
#include <string_view>

#include "applier/plan.hpp"
#include "ui/model.hpp"
#include "ui/runner.hpp"

namespace airlock::ui {

struct View {
  std::string lang;
  std::string csrf;
  std::string flash;
  bool flash_error = false;
  Progress progress;
};

std::string html_escape(std::string_view s);
std::string render_page(const PageModel& m, const View& v);
// The plan view (`apply --dry-run`'s plan) of the bundle `file` from `source`, with the Upgrade now
// confirmation; `plan` is the error of planning when it failed (the bundle does not verify).
std::string render_plan(const Result<applier::Plan>& plan, const View& v, const std::string& source,
                        const std::string& file);
std::string render_login(const std::string& lang, const std::string& token, const std::string& message);
// A page for the error of gathering the model (the site cannot be read): the message only.
std::string render_error(const std::string& lang, const std::string& csrf, const std::string& message);

}  // namespace airlock::ui
