// Sideload: a bundle uploaded as the raw body of one POST, streamed to disk in the chunks the
// socket delivers (never whole in memory), under a name the server chooses, within [ui]
// upload_limit; then verified in full (`airlock scan --deep` of the one file). Only a verified
// bundle enters the inbox; any other is deleted and the reason shown. Both are audited.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
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
// read timeout).
constexpr std::chrono::seconds kRateWindow{10};
constexpr std::uint64_t kMinBytesPerWindow = 64 * 1024;

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

struct Received {
  std::uint64_t bytes = 0;
  bool too_big = false;
  bool too_slow = false;
};

// Streams the body into `path` (a new file, committed only when whole and within the limit).
Result<Received> receive(const httplib::ContentReader& reader, const std::string& path, std::uint64_t limit) {
  AIRLOCK_TRY(auto out, AtomicFile::create(path, 0644, Perms::exact), "upload");
  Received r;
  Status write_error;
  // httplib delivers the body in small reads; one write per MiB keeps the path at disk speed.
  std::string buf;
  buf.reserve(kWriteBytes);
  std::size_t writes = 0;
  auto window_start = std::chrono::steady_clock::now();
  std::uint64_t window_bytes = 0;
  const bool read = reader([&](const char* data, std::size_t len) {
    r.bytes += len;
    if (r.bytes > limit) {
      r.too_big = true;
      return false;
    }
    window_bytes += len;
    if (const auto now = std::chrono::steady_clock::now(); now - window_start >= kRateWindow) {
      if (window_bytes < kMinBytesPerWindow) {
        r.too_slow = true;
        return false;
      }
      window_start = now;
      window_bytes = 0;
    }
    buf.append(data, len);
    if (buf.size() < kWriteBytes) return true;
    write_error = out.write(buf);
    buf.clear();
    // Start the disk writing now, beside the receiving, rather than all of it at the final fsync.
    if (++writes % kWritebackEvery == 0) (void)::sync_file_range(out.fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
    return static_cast<bool>(write_error);
  });
  if (r.too_big || r.too_slow) return r;
  if (write_error && read && !buf.empty()) write_error = out.write(buf);
  if (!write_error) return fail(write_error.error().with_context("upload"));
  if (!read) return fail(ErrorClass::io, "the upload ended before its body was complete");
  AIRLOCK_CHECK(out.commit(), "upload");
  return r;
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

void upload(App& app, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  auto s = post_session(app, req, res);
  if (!s) return;
  const std::uint64_t limit = app.site.ui.upload_limit;
  if (req.has_header("Content-Length") && req.get_header_value<std::uint64_t>("Content-Length") > limit) {
    app.audit("upload refused", "larger than upload_limit " + std::to_string(limit) + " bytes");
    res.set_header("Connection", "close");
    return answer(res, 413, false, "the bundle is larger than the upload limit (" + std::to_string(limit) + " bytes)");
  }
  const std::uint64_t inbox_limit = app.site.ui.inbox_limit;
  if (req.has_header("Content-Length")) {
    const auto len = req.get_header_value<std::uint64_t>("Content-Length");
    if (const auto held = inbox_bytes(app.site.ui.inbox); held + len > inbox_limit) {
      app.audit("upload refused", over_inbox_limit(held, len, inbox_limit));
      res.set_header("Connection", "close");
      return answer(res, 507, false, over_inbox_limit(held, len, inbox_limit));
    }
  }
  std::unique_lock busy(app.upload_mu, std::try_to_lock);
  if (!busy.owns_lock()) return answer(res, 409, false, "another upload is in progress");
  const std::string dir = app.site.ui.inbox + "/.upload";
  if (auto d = make_private_dir(dir); !d) return answer(res, 500, false, d.error().what());
  const std::string name = "upload-" + crypto::random_hex(8) + ".tar.zst";  // never the client's name
  auto got = receive(reader, dir + "/" + name, limit);
  if (!got || got->too_big || got->too_slow) {
    const std::string why = !got           ? got.error().what()
                            : got->too_big ? "larger than the upload limit (" + std::to_string(limit) + " bytes)"
                                           : "slower than " + std::to_string(kMinBytesPerWindow / 1024) + " KiB per " +
                                                 std::to_string(kRateWindow.count()) + " s";
    app.audit("upload refused", why);
    res.set_header("Connection", "close");
    return answer(res, !got ? 400 : got->too_big ? 413 : 408, false, "upload refused: " + why);
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
  svr.Post("/action/upload", [&app](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& r) { upload(app, req, res, r); });
}

}  // namespace airlock::ui
