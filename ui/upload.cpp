// Sideload: a bundle uploaded as the raw body of one POST, read from the connection straight into
// 1 MiB write buffers (never whole in memory), under a name the server chooses, within [ui]
// upload_limit; then verified in full (`airlock scan --deep` of the one file). Only a verified
// bundle enters the inbox; any other is deleted and the reason shown. Both are audited.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "applier/scan.hpp"
#include "core/crypto/password_hash.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"
#include "ui/app.hpp"
#include "ui/conn.hpp"

namespace airlock::ui {
namespace {

namespace ap = airlock::applier;
using nlohmann::json;

void answer(httplib::Response& res, int status, bool ok, const std::string& message, const std::string& file = "") {
  res.status = status;
  res.set_content(json{{"ok", ok}, {"message", printable(message)}, {"file", file}}.dump(), "application/json");
}

// "<product>-<version>.tar.zst" from the verified manifest, only [A-Za-z0-9._+-] kept.
std::string final_name(const Manifest& m) {
  std::string n = m.release.product + "-" + m.release.version.text;
  for (auto& ch : n)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-' || ch == '+')) ch = '_';
  if (n.empty() || n[0] == '.') n = "bundle" + n;
  return n + ".tar.zst";
}

constexpr std::size_t kWriteBytes = 1 << 20;
constexpr std::size_t kWritebackEvery = 8;  // writes of kWriteBytes
// The one upload slot is not held by a client trickling its body: each window of this length must
// bring at least this many bytes (a stall of the connection itself ends sooner, at the server's
// idle limit). Either is answered 408.
constexpr std::chrono::seconds kRateWindow{10};
constexpr std::uint64_t kMinBytesPerWindow = 64 * 1024;

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

struct Received {
  enum class Outcome { whole, too_big, too_slow, broken } outcome = Outcome::whole;
  std::uint64_t bytes = 0;
  std::string why;  // broken: what the client sent wrong
};

// Streams the body into `path` (a new file, committed only when whole and within the limit; else
// nothing is left). The error is the file's (the server's side); the client's faults are outcomes.
Result<Received> receive(RequestBody& body, const std::string& path, std::uint64_t limit) {
  AIRLOCK_TRY(auto out, AtomicFile::create(path, 0644, Perms::exact), "upload");
  Received r;
  std::vector<char> buf(kWriteBytes);
  std::size_t held = 0, writes = 0;
  auto window_start = std::chrono::steady_clock::now();
  std::uint64_t window_bytes = 0;
  for (;;) {
    const auto got = body.read_some(buf.data() + held, buf.size() - held);
    using S = RequestBody::State;
    if (got.state == S::end) break;
    if (got.state != S::data) {
      r.outcome = got.state == S::stalled ? Received::Outcome::too_slow : Received::Outcome::broken;
      r.why = got.state == S::malformed ? got.why : "the upload ended before its body was complete";
      return r;
    }
    r.bytes += got.bytes;
    if (r.bytes > limit) {  // refused before a byte past the limit is written
      r.outcome = Received::Outcome::too_big;
      return r;
    }
    window_bytes += got.bytes;
    if (const auto now = std::chrono::steady_clock::now(); now - window_start >= kRateWindow) {
      if (window_bytes < kMinBytesPerWindow) {
        r.outcome = Received::Outcome::too_slow;
        return r;
      }
      window_start = now;
      window_bytes = 0;
    }
    held += got.bytes;
    if (held < buf.size()) continue;
    AIRLOCK_CHECK(out.write(buf.data(), held), "upload");
    held = 0;
    // Start the disk writing now, beside the receiving, rather than all of it at the final fsync.
    if (++writes % kWritebackEvery == 0) (void)::sync_file_range(out.fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  if (held > 0) AIRLOCK_CHECK(out.write(buf.data(), held), "upload");
  AIRLOCK_CHECK(out.commit(), "upload");
  return r;
}

// A Content-Length header's value: nullopt when absent, 0 with `bad` when it is not a number.
std::optional<std::uint64_t> content_length(const httplib::Request& req, bool& bad) {
  bad = false;
  if (!req.has_header("Content-Length")) return std::nullopt;
  const std::string v = req.get_header_value("Content-Length");
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  bad = ec != std::errc() || end != v.data() + v.size();
  return n;
}

// The inbox's bundles: its plain files (the upload folder and hidden files aside).
std::vector<std::filesystem::directory_entry> inbox_files(const std::string& inbox) {
  std::vector<std::filesystem::directory_entry> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(inbox, ec))
    if (e.path().filename().string()[0] != '.' && e.is_regular_file(ec)) files.push_back(e);
  return files;
}

std::uint64_t inbox_bytes(const std::string& inbox) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : inbox_files(inbox)) total += e.file_size(ec);
  return total;
}

// The inbox file with the same bytes as the upload at `path`, if any. Only a file of the same size
// can be one: the two are hashed then, and only then (the common upload pays nothing for this).
std::optional<std::string> same_bundle(const std::string& inbox, const std::string& path, std::uint64_t bytes) {
  std::error_code ec;
  std::optional<std::string> mine;
  for (const auto& e : inbox_files(inbox)) {
    if (e.file_size(ec) != bytes) continue;
    if (!mine) {
      auto h = sha256_file(path);
      if (!h) return std::nullopt;
      mine = *h;
    }
    auto h = sha256_file(e.path().string());
    if (h && *h == *mine) return e.path().filename().string();
  }
  return std::nullopt;
}

std::string over_inbox_limit(std::uint64_t held, std::uint64_t adding, std::uint64_t limit) {
  return "the inbox holds " + std::to_string(held) + " bytes; this upload of " + std::to_string(adding) +
         " bytes would pass [ui] inbox_limit (" + std::to_string(limit) +
         " bytes): remove bundles from the inbox first";
}

// Verifies the file alone in `dir` and moves it into the inbox; the inbox name, or why not.
Result<std::string> admit(App& app, const std::string& dir, const std::string& name) {
  auto scanned = [&] {
    std::lock_guard lk(app.applier_mu);
    return ap::scan(dir, app.opt.site_toml, ap::ScanDepth::deep);
  }();
  if (!scanned) return fail(scanned.error().with_context("verifying the upload"));
  const ap::ScannedBundle* b = nullptr;
  for (const auto& x : scanned->bundles)
    if (x.file == name) b = &x;
  if (!b) return fail(ErrorClass::malformed, "the upload is not a bundle");
  if (!b->verified || !b->manifest)
    return fail(b->error ? *b->error : Error(ErrorClass::not_authentic, "the bundle did not verify"));
  std::string target = final_name(*b->manifest);
  if (exists(app.site.ui.inbox + "/" + target))
    target = target.substr(0, target.size() - 8) + "-" + crypto::random_hex(4) + ".tar.zst";
  AIRLOCK_CHECK(rename_path(dir + "/" + name, app.site.ui.inbox + "/" + target), "upload");
  AIRLOCK_CHECK(fsync_dir(app.site.ui.inbox), "upload");
  return target;
}

void upload(App& app, const httplib::Request& req, httplib::Response& res) {
  // Every check that needs no body comes first: not a byte of it is read (let alone written)
  // for a request without its session and CSRF token, or too large by its Content-Length.
  auto s = post_session(app, req, res);
  if (!s) return;
  RequestBody* body = request_body();
  if (!body) return answer(res, 500, false, "the upload's connection is not readable here");
  bool bad_length = false;
  const auto length = content_length(req, bad_length);
  if (bad_length) {
    res.set_header("Connection", "close");
    return answer(res, 400, false, "the request's Content-Length is not a number");
  }
  const std::uint64_t limit = app.site.ui.upload_limit;
  if (length && *length > limit) {
    app.audit("upload refused", "larger than upload_limit " + std::to_string(limit) + " bytes");
    res.set_header("Connection", "close");
    return answer(res, 413, false, "the bundle is larger than the upload limit (" + std::to_string(limit) + " bytes)");
  }
  const std::uint64_t inbox_limit = app.site.ui.inbox_limit;
  if (length) {
    if (const auto held = inbox_bytes(app.site.ui.inbox); held + *length > inbox_limit) {
      app.audit("upload refused", over_inbox_limit(held, *length, inbox_limit));
      res.set_header("Connection", "close");
      return answer(res, 507, false, over_inbox_limit(held, *length, inbox_limit));
    }
  }
  std::unique_lock busy(app.upload_mu, std::try_to_lock);
  if (!busy.owns_lock()) {
    res.set_header("Connection", "close");
    return answer(res, 409, false, "another upload is in progress");
  }
  const std::string dir = app.site.ui.inbox + "/.upload";
  if (auto d = make_private_dir(dir); !d) return answer(res, 500, false, d.error().what());
  const std::string name = "upload-" + crypto::random_hex(8) + ".tar.zst";  // never the client's name
  auto got = receive(*body, dir + "/" + name, limit);
  if (!got || got->outcome != Received::Outcome::whole) {
    using O = Received::Outcome;
    const std::string why = !got                        ? got.error().what()
                            : got->outcome == O::broken ? got->why
                            : got->outcome == O::too_big
                                ? "larger than the upload limit (" + std::to_string(limit) + " bytes)"
                                : "slower than " + std::to_string(kMinBytesPerWindow / 1024) + " KiB per " +
                                      std::to_string(kRateWindow.count()) + " s";
    app.audit("upload refused", why);
    res.set_header("Connection", "close");
    const int status = !got ? 500 : got->outcome == O::broken ? 400 : got->outcome == O::too_big ? 413 : 408;
    return answer(res, status, false, "upload refused: " + why);
  }
  // The same bytes already in the inbox: nothing is added, however often it is sent.
  if (auto same = same_bundle(app.site.ui.inbox, dir + "/" + name, got->bytes)) {
    (void)::unlink((dir + "/" + name).c_str());
    app.audit("upload", *same + ", " + std::to_string(got->bytes) + " bytes, already in the inbox");
    return answer(res, 200, true, "already in the inbox as " + *same, *same);
  }
  if (const auto held = inbox_bytes(app.site.ui.inbox); held + got->bytes > inbox_limit) {
    (void)::unlink((dir + "/" + name).c_str());
    app.audit("upload refused", over_inbox_limit(held, got->bytes, inbox_limit));
    return answer(res, 507, false, over_inbox_limit(held, got->bytes, inbox_limit));
  }
  auto admitted = admit(app, dir, name);
  if (!admitted) {
    (void)::unlink((dir + "/" + name).c_str());
    app.audit("upload refused", std::to_string(got->bytes) + " bytes: " + admitted.error().what());
    return answer(res, 422, false, "refused: " + admitted.error().what());
  }
  app.audit("upload", *admitted + ", " + std::to_string(got->bytes) + " bytes, verified");
  app.log("upload verified: " + *admitted);
  answer(res, 200, true, "verified and added to the inbox as " + *admitted, *admitted);
}

}  // namespace

void add_upload_route(App& app, httplib::Server& svr) {
  // A content-reader route, so that the library leaves the body alone: the handler reads it
  // through request_body().
  svr.Post("/action/upload", [&app](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader&) { upload(app, req, res); });
}

}  // namespace airlock::ui
