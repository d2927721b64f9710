#include "applier/audit_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "applier/audit.hpp"
#include "applier/state_db.hpp"
#include "core/crypto/hash.hpp"
#include "core/json_text.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"
#include "core/sys/sys.hpp"
#include "core/sys/time.hpp"
#include "core/text.hpp"

namespace airlock::applier {
namespace {

using nlohmann::json;

// The state key naming the bytes the last drain recorded: "<size> <sha256 hex>".
constexpr const char* kDrainedKey = "audit_spool_drained";

// The spool opened and locked against the page's appends (a drain empties it under the same lock).
Result<Fd> open_locked(const std::string& path, int flags) {
  Fd fd(sys::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    if (errno == ENOENT && !(flags & O_CREAT)) return Fd();
    return fail(errno_error("open", path, errno));
  }
  int rc;
  do rc = ::flock(fd.get(), LOCK_EX);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) return fail(errno_error("lock", path, errno));
  return fd;
}

Result<std::string> read_from_start(int fd, const std::string& path) {
  std::string out;
  char buf[64 << 10];
  if (::lseek(fd, 0, SEEK_SET) < 0) return fail(errno_error("seek", path, errno));
  for (;;) {
    AIRLOCK_TRY(std::size_t n, read_some(fd, buf, sizeof buf, path), "audit spool");
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

// The first line: the format and a random tag of this file's life (from its creation to its
// emptying), so that the mark of a drained spool never matches a later one with the same entries.
std::string header_line() { return std::string(kAuditSpoolHeader) + " " + random_hex(8) + "\n"; }

// The length of the header line when `text` starts with this version's, else 0.
std::size_t our_header(std::string_view text) {
  const std::string_view h = kAuditSpoolHeader;
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos || text.substr(0, h.size()) != h) return 0;
  if (nl != h.size() && text[h.size()] != ' ') return 0;
  return nl + 1;
}

std::string drained_mark(std::string_view bytes) {
  return std::to_string(bytes.size()) + " " + to_hex(sha256(bytes));
}

// The length of the spool's start that the last drain recorded already (0 when none).
std::size_t already_recorded(StateDb& st, const std::string& text) {
  auto mark = st.get(kDrainedKey);
  if (!mark || mark->empty()) return 0;
  const auto space = mark->find(' ');
  if (space == std::string::npos) return 0;
  std::size_t size = 0;
  try {
    size = std::stoull(mark->substr(0, space));
  } catch (...) {
    return 0;
  }
  if (size == 0 || size > text.size()) return 0;
  return drained_mark(std::string_view(text).substr(0, size)) == *mark ? size : 0;
}

// One spooled line as the audit entry it stands for; a damaged line becomes an entry saying so.
struct Spooled {
  std::string at, kind, data;
};
Spooled parse_line(std::string_view line, bool whole, const std::string& now) {
  // Only the page spools, and only its own entries: anything else in the file is not taken for
  // a real entry of another kind (an apply, an ack) but recorded as what it is.
  const char* damage = whole ? "a spooled entry that does not parse" : "a spooled entry cut short";
  if (whole) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.size() == 3 && j.contains("at") && j["at"].is_string() && j.contains("kind") &&
        j["kind"] == "page" && j.contains("data") && j["data"].is_string() && parse_rfc3339(j["at"].get<std::string>())) {
      auto data = json::parse(j["data"].get<std::string>(), nullptr, false);
      if (data.is_object() && data.contains("via") && data["via"] == "page")
        return {j["at"].get<std::string>(), "page", j["data"].get<std::string>()};
    }
    damage = "a spooled entry that is not one of the page's";
  }
  json noted = {{"damaged", damage}, {"line", printable(line.substr(0, 512))}};
  return {now, "spool", dump_json(noted)};
}

}  // namespace

std::string audit_spool_file(const Site& s) { return s.state_dir + "/audit-spool"; }

std::int64_t count_spooled(const Site& s) {
  const std::string path = audit_spool_file(s);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return 0;
  auto text = read_from_start(fd.get(), path);
  if (!text || text->empty()) return 0;
  std::int64_t lines = std::count(text->begin(), text->end(), '\n') + (text->back() == '\n' ? 0 : 1);
  if (text->rfind("airlock-audit-spool/", 0) == 0 && text->find('\n') != std::string::npos)
    --lines;  // any version's header line
  return lines;
}

Status spool_audit_entry(const Site& s, const std::string& at, const std::string& kind, const std::string& data) {
  const std::string path = audit_spool_file(s);
  AIRLOCK_CHECK(make_private_dir(s.state_dir), "audit spool");
  AIRLOCK_TRY(Fd fd, open_locked(path, O_RDWR | O_CREAT | O_APPEND), "audit spool");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno_error("stat", path, errno));
  std::string line = st.st_size == 0 ? header_line() : "";
  line += dump_json(json({{"at", at}, {"kind", kind}, {"data", data}})) + "\n";
  auto written = write_all(fd.get(), line.data(), line.size(), path);
  if (written && sys::fsync(fd.get()) != 0) written = fail(errno_error("fsync", path, errno));
  if (!written) {
    // A part of a line would glue the next entry onto it: the file goes back to its last whole line.
    (void)sys::ftruncate(fd.get(), st.st_size);
    return fail(written.error().with_context("audit spool"));
  }
  if (st.st_size == 0) AIRLOCK_CHECK(fsync_dir(s.state_dir), "audit spool");
  return {};
}

Result<int> drain_audit_spool(const Site& s, StateDb& st, const std::string& now) {
  const std::string path = audit_spool_file(s);
  // Most sites never spool: looking costs no call that could change the disk.
  struct stat seen {};
  if (::lstat(path.c_str(), &seen) != 0 && errno == ENOENT) return 0;
  AIRLOCK_TRY(Fd fd, open_locked(path, O_RDWR), "audit spool");
  if (!fd.valid()) return 0;
  AIRLOCK_TRY(std::string text, read_from_start(fd.get(), path), "audit spool");
  if (text.empty()) return 0;
  const std::size_t skip = already_recorded(st, text);
  std::string_view rest = std::string_view(text).substr(skip);
  std::size_t header_end = 0;
  if (skip == 0) {
    header_end = our_header(rest);
    // Another version's spool is kept for a build that reads it. Anything else (a header cut
    // short by a crash, or damage) is recorded below line by line, as damage.
    if (header_end == 0 && rest.rfind("airlock-audit-spool/", 0) == 0 && rest.find('\n') != std::string_view::npos)
      return fail(ErrorClass::malformed, "audit spool '" + path + "' is of another version ('" +
                                      printable(rest.substr(0, rest.find('\n'))) + "'): left as it is");
  }
  int recorded = 0;
  AIRLOCK_CHECK(st.begin(), "audit spool");
  auto done = [&]() -> Status {
    for (std::size_t pos = header_end; pos < rest.size();) {
      const auto nl = rest.find('\n', pos);
      const bool whole = nl != std::string_view::npos;
      const std::string_view line = rest.substr(pos, whole ? nl - pos : std::string_view::npos);
      pos = whole ? nl + 1 : rest.size();
      const Spooled e = parse_line(line, whole, now);
      AIRLOCK_TRY(auto head, audit_append(st, e.at, e.kind, e.data), "audit spool");
      (void)head;
      ++recorded;
    }
    AIRLOCK_CHECK(st.set(kDrainedKey, drained_mark(text)), "audit spool");
    return {};
  }();
  if (!done) {
    st.rollback_tx();
    return fail(done.error());
  }
  AIRLOCK_CHECK(st.commit(), "audit spool");
  // Emptied, not removed: a writer waiting on this file's lock appends to the file it opened.
  if (sys::ftruncate(fd.get(), 0) != 0) return fail(errno_error("truncate", path, errno));
  if (sys::fsync(fd.get()) != 0) return fail(errno_error("fsync", path, errno));
  AIRLOCK_CHECK(st.set(kDrainedKey, ""), "audit spool");
  return recorded;
}

}  // namespace airlock::applier
