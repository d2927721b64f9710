#include "cli/password.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "core/crypto/minisign.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/fs.hpp"

namespace airlock::cli {

namespace {

constexpr const char* kEnvVar = "AIRLOCK_PASSWORD_FILE";
using minisign::kMaxPasswordBytes;  // anything near it from a terminal is a mistake

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// nullopt when the variable is unset; an error when it names an unreadable file.
std::optional<Result<std::string>> password_from_env() {
  const char* path = std::getenv(kEnvVar);
  if (!path || !*path) return std::nullopt;
  auto text = read_file(path, 64 * 1024, ErrorClass::usage);
  if (!text)
    return Result<std::string>(
        fail(std::move(text).error().with_context(std::string("reading the password file named by ") + kEnvVar)));
  return Result<std::string>(first_line(*text));
}

bool have_terminal() { return ::isatty(STDIN_FILENO) == 1 || ::isatty(STDERR_FILENO) == 1; }

// Restores the terminal's echo setting however the prompt ends.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = ::tcsetattr(fd_, TCSANOW, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

Result<std::string> prompt(int tty, const std::string& text) {
  AIRLOCK_CHECK(write_all(tty, text.data(), text.size(), "/dev/tty"), "prompting for a password");
  EchoOff echo_off(tty);
  std::string pw;
  char c = 0;
  while (true) {
    ssize_t n = ::read(tty, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error("read", "/dev/tty", errno));
    if (n == 0 || c == '\n') break;
    pw += c;
    if (pw.size() > kMaxPasswordBytes)
      return fail(ErrorClass::usage, "password longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

Result<Fd> open_tty() {
  Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid()) return fail(errno_error("open", "/dev/tty", errno));
  return tty;
}

Error no_source(const std::string& key_path) {
  return Error(ErrorClass::usage, "secret key '" + key_path + "' needs a password and there is no terminal to ask on; " +
                                      "set " + kEnvVar + " to a file whose first line is the password");
}

}  // namespace

PasswordProvider make_password_provider(std::string key_path) {
  return [key_path = std::move(key_path)]() -> Result<std::string> {
    if (auto env = password_from_env()) return std::move(*env);
    if (!have_terminal()) return fail(no_source(key_path));
    AIRLOCK_TRY(Fd tty, open_tty(), "asking for the password of '" + key_path + "'");
    return prompt(tty.get(), "Password for " + key_path + ": ");
  };
}

Result<std::string> ask_new_password(std::string key_path) {
  std::string pw;
  if (auto env = password_from_env()) {
    if (!*env) return std::move(*env);
    pw = std::move(**env);
  } else {
    if (!have_terminal()) return fail(no_source(key_path));
    AIRLOCK_TRY(Fd tty, open_tty(), "asking for a new password for '" + key_path + "'");
    AIRLOCK_TRY(pw, prompt(tty.get(), "New password for " + key_path + ": "), "reading the new password");
    AIRLOCK_TRY(auto again, prompt(tty.get(), "Repeat the password: "), "reading the new password");
    if (again != pw) return fail(ErrorClass::usage, "the two passwords differ");
  }
  if (pw.empty())
    return fail(ErrorClass::usage, "empty password for '" + key_path + "'; pass --no-password for an unencrypted key");
  return pw;
}

}  // namespace airlock::cli
