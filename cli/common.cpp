#include "cli/common.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/password.hpp"
#include "core/sys/fs.hpp"
#include "core/text.hpp"

namespace airlock::cli {

Parsed parse_args(int argc, char** argv, const std::string& usage, const std::string& description,
                  po::options_description& opts, const po::positional_options_description& pos,
                  const std::string& examples) {
  Parsed p;
  opts.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(argc, argv) /* skips argv[0], the subcommand */.options(opts).positional(pos).run(), p.vm);
    if (p.vm.count("help")) {
      std::cout << "Usage: " << usage << "\n\n" << description << "\n\n" << opts;
      if (!examples.empty()) std::cout << "\nExamples:\n" << examples;
      p.exit_now = 0;
      return p;
    }
    po::notify(p.vm);
  } catch (const std::exception& e) {
    std::cerr << "airlock " << argv[0] << ": " << printable(e.what()) << "\nUsage: " << usage << "\nTry 'airlock "
              << argv[0] << " --help'.\n";
    p.exit_now = exit_code(ErrorClass::usage);
  }
  return p;
}

int report_error(const std::string& cmd, const Error& e, bool json) {
  if (json) {
    nlohmann::json j;
    j["ok"] = false;
    j["error"] = {{"class", error_class_name(e.cls())},
                  {"exit_code", exit_code(e.cls())},
                  {"message", e.message()},
                  {"context", e.context()},
                  {"text", e.what()}};
    print_json(j);
  }
  std::cerr << "airlock " << cmd << ": error (" << error_class_name(e.cls()) << ", exit "
            << exit_code(e.cls()) << "): " << e.what() << "\n";
  return exit_code(e.cls());
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

static std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Progress::Progress(std::string label) : label_(std::move(label)), enabled_(stderr_is_tty()) {}
Progress::~Progress() { done(); }

void Progress::update(std::uint64_t done_bytes, std::uint64_t total, const std::string& item) {
  if (!enabled_) return;
  auto t = now_ms();
  if (shown_ && t - last_ms_ < 100 && done_bytes < total) return;
  last_ms_ = t;
  shown_ = true;
  int pct = total ? static_cast<int>(done_bytes * 100 / total) : 0;
  // The item is an entry name from the bundle: escaped first, then cut at a character boundary.
  const std::string safe = printable(item);
  std::size_t from = safe.size() > 40 ? safe.size() - 37 : 0;
  while (from > 0 && from < safe.size() && (static_cast<unsigned char>(safe[from]) & 0xC0) == 0x80) ++from;
  std::string shown_item = from > 0 ? "..." + safe.substr(from) : safe;
  std::fprintf(stderr, "\r\033[K%s %3d%% %s / %s %s", label_.c_str(), pct, human_bytes(done_bytes).c_str(),
               human_bytes(total).c_str(), shown_item.c_str());
  std::fflush(stderr);
}

void Progress::done() {
  if (enabled_ && shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

Result<minisign::SecretKey> load_secret_key(const std::string& path) {
  AIRLOCK_TRY(auto text, read_file(path, 64 * 1024), "reading secret key");
  auto provider = make_password_provider(path);
  auto key = minisign::parse_secret_key_file(text, provider);
  if (!key) return fail(std::move(key).error().with_context("secret key '" + path + "'"));
  return *key;
}

namespace {

nlohmann::json printable_json(const nlohmann::json& j, const std::string& at,
                              std::initializer_list<std::string_view> multiline) {
  if (j.is_string()) {
    const bool keep = std::find(multiline.begin(), multiline.end(), at) != multiline.end();
    return printable(j.get_ref<const std::string&>(), keep ? Newlines::keep : Newlines::escape);
  }
  if (j.is_array()) {
    auto out = nlohmann::json::array();
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(printable_json(j[i], at + "/" + std::to_string(i), multiline));
    return out;
  }
  if (j.is_object()) {
    auto out = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it)
      out[printable(it.key())] = printable_json(it.value(), at + "/" + it.key(), multiline);
    return out;
  }
  return j;
}

}  // namespace

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void print_input_json(const nlohmann::json& j, std::initializer_list<std::string_view> multiline) {
  print_json(printable_json(j, "", multiline));
}

Result<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max, const std::string& what) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    return fail(ErrorClass::usage, what + ": '" + std::string(text) + "' is not a whole number in " +
                                       std::to_string(min) + ".." + std::to_string(max));
  return v;
}

}  // namespace airlock::cli
