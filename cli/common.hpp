// Shared pieces of the command-line front end: the subcommand signature, argument parsing that
// turns Program_options exceptions into usage errors, error and progress rendering.
// Only cli/ prints: data on stdout, diagnostics and progress on stderr.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"

namespace airlock::cli {

namespace po = boost::program_options;

using Handler = int (*)(int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  Handler handler;
};

// Parses argv[1..] against `opts` (+ positional names). On --help prints usage and returns 0 via
// `exit_now`; on a parse error prints it and sets exit_now to 2.
struct Parsed {
  po::variables_map vm;
  std::optional<int> exit_now;
};
Parsed parse_args(int argc, char** argv, const std::string& usage, const std::string& description,
                  po::options_description& opts, const po::positional_options_description& pos,
                  const std::string& examples = "");

// Prints "airlock <cmd>: error[<class>]: message" to stderr — or, with json, a JSON object on stdout
// — and returns the exit code of spec §8.
int report_error(const std::string& cmd, const Error& e, bool json);

bool stderr_is_tty();

// Progress on stderr, only when stderr is a terminal; throttled to ~10 updates a second.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(std::uint64_t done, std::uint64_t total, const std::string& item);
  void done();

 private:
  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::int64_t last_ms_ = 0;
};

std::string human_bytes(std::uint64_t n);

// Loads a secret key file, asking for its password when it is encrypted.
[[nodiscard]] Result<minisign::SecretKey> load_secret_key(const std::string& path);

// JSON on stdout. print_json is for documents whose texts were made printable where they were
// made (Error texts, check details, history and audit as stored: core/text.hpp); a text that is
// not (a state folder edited by hand) becomes U+FFFD instead of an exception. print_input_json is
// for documents that quote inputs as they are (bundle entries, trust roots, recipes): every key
// and string is made printable; strings at the JSON pointers in `multiline` (release notes) keep
// their newlines and tabs.
void print_json(const nlohmann::json& j);
void print_input_json(const nlohmann::json& j, std::initializer_list<std::string_view> multiline = {});

// A whole decimal integer in [min, max], nothing before or after it ("2abc", " 2", "+2" and "0x2"
// are refused): a usage error naming `what` and the text.
[[nodiscard]] Result<std::int64_t> parse_integer(std::string_view text, std::int64_t min, std::int64_t max,
                                                 const std::string& what);

}  // namespace airlock::cli
