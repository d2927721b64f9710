#include "applier/channel.hpp"

#include <sys/stat.h>

#include "applier/audit.hpp"
#include "applier/audit_spool.hpp"
#include "applier/run.hpp"
#include "core/json_text.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxChannelFileBytes = 256;

// Appends one audit entry in its own transaction; the head hash.
Result<std::string> append_alone(Ctx& c, const std::string& kind, const json& entry) {
  AIRLOCK_CHECK(c.st.begin(), "audit log");
  auto head = audit_append(c.st, c.now(), kind, dump_json(entry));
  if (!head) {
    c.st.rollback_tx();
    return fail(head.error().with_context("audit log"));
  }
  AIRLOCK_CHECK(c.st.commit(), "audit log");
  return head;
}

}  // namespace

std::string channel_file(const Site& s) { return s.state_dir + "/channel"; }

Status apply_chosen_channel(Site& s) {
  const std::string path = channel_file(s);
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) return {};  // none chosen: site.toml's default
  AIRLOCK_TRY(auto text, read_file(path, kMaxChannelFileBytes, ErrorClass::usage), "the chosen channel");
  const std::string header = std::string(kChannelFileHeader) + "\n";
  if (text.rfind(header, 0) != 0 || text.back() != '\n')
    return fail(ErrorClass::usage, "'" + path + "' is not an " + kChannelFileHeader + " file");
  const std::string name = text.substr(header.size(), text.size() - header.size() - 1);
  auto c = parse_channel(name);
  if (!c) return fail(ErrorClass::usage, "'" + path + "' names an unknown channel '" + printable(name) + "'");
  s.channel = *c;
  s.channel_chosen = true;
  return {};
}

Result<ChannelReport> channel_set(const std::string& site_toml, Channel to, const Env& env) {
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return fail(opened.error().with_context("channel set"));
  Ctx& c = *opened->ctx;
  ChannelReport r{c.site.name, channel_name(c.site.channel), channel_name(to), c.now(), ""};
  AIRLOCK_CHECK(write_file_atomic(channel_file(c.site), std::string(kChannelFileHeader) + "\n" + r.to + "\n", 0644),
                "channel set");
  json entry = {{"from", r.from}, {"to", r.to}, {"by", c.env.started_by}};
  AIRLOCK_TRY(r.audit_head, append_alone(c, "channel", entry), "channel set");
  return r;
}

Result<std::string> audit_page_action(const std::string& site_toml, const std::string& action,
                                      const std::string& detail, const Env& env, PageAudit how) {
  const json entry = {{"action", action}, {"via", "page"}, {"detail", printable(detail)}};
  auto spooled = [&]() -> Result<std::string> {
    AIRLOCK_TRY(auto site, load_site(site_toml), "audit");
    AIRLOCK_CHECK(spool_audit_entry(site, format_rfc3339(env.now()), "page", dump_json(entry)), "audit");
    return std::string();
  };
  if (how == PageAudit::spool) return spooled();
  // Busy, or any other reason the site cannot be opened now (a run to recover that fails, a
  // state.db that cannot be written): the entry waits in the spool rather than being lost.
  auto opened = open_site(site_toml, env, nullptr);
  if (!opened) return spooled();
  return append_alone(*opened->ctx, "page", entry);
}

Status record_spooled_audit(const std::string& site_toml, const Env& env) {
  auto opened = open_site(site_toml, env, nullptr);  // which records the spool
  if (!opened) return fail(opened.error().with_context("audit"));
  return {};
}

}  // namespace airlock::applier
