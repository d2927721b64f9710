// The operator's release channel. site.toml's `channel` is the default; an operator's choice
// (`airlock channel set`, or the Updates page) is kept in <state_dir>/channel and overrides it for
// every command that loads the site (status, scan, stage, apply). The file is small and versioned:
//   airlock-channel/1
//   <recommended|rc|beta>
// written atomically; any other content is refused (ErrorClass::usage naming the file), never
// guessed at.
#pragma once

#include <string>

#include "applier/applier.hpp"
#include "applier/site.hpp"
#include "core/error.hpp"
#include "core/model/manifest.hpp"

namespace airlock::applier {

inline constexpr const char* kChannelFileHeader = "airlock-channel/1";

std::string channel_file(const Site& s);
// Sets s.channel (and s.channel_chosen) from <state_dir>/channel when the file exists.
[[nodiscard]] airlock::Status apply_chosen_channel(Site& s);

struct ChannelReport {
  std::string site_name;
  std::string from, to;  // channel names
  std::string at;
  std::string audit_head;
};
// Records the operator's channel under the site lock: the file, then an audit entry "channel"
// naming from, to and who (env.started_by). Busy (32) while a run holds the lock.
[[nodiscard]] Result<ChannelReport> channel_set(const std::string& site_toml, Channel to, const Env& env = {});

// An audit entry for an action of the Updates page that has no record of its own (a login, a
// refused upload, an upload): kind "page", data {"action", "via": "page", "detail"}. The head hash;
// "" when the entry went to the audit spool (applier/audit_spool.hpp) instead: always with
// PageAudit::spool (the caller's own run holds the site), and whenever the site cannot be opened
// (another run holds it, a recovery fails). Either way it is on disk when this returns.
enum class PageAudit { record, spool };
[[nodiscard]] Result<std::string> audit_page_action(const std::string& site_toml, const std::string& action,
                                                    const std::string& detail, const Env& env = {},
                                                    PageAudit how = PageAudit::record);
// Records what the spool holds (any command that opens the site does too); busy (32) while a run
// holds the site.
[[nodiscard]] Status record_spooled_audit(const std::string& site_toml, const Env& env = {});

}  // namespace airlock::applier
