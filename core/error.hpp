// Errors as values. Every fallible function returns Result<T> = tl::expected<T, Error>.
// An Error carries a class (which maps 1:1 to the exit codes of spec §8), a message naming the
// thing and the reason, and a context chain added by callers on the way up:
//   return fail(ErrorClass::malformed, "entry 'x': bad checksum").with_context(...)
//   if (!r) return tl::unexpected(r.error().with_context("reading manifest"));
// Libraries never print or exit; cli/ maps the class to the process exit code.
// Message and contexts are made printable (core/text.hpp) as they are stored: an error text may
// quote bytes from a bundle, a site or SQLite, and goes to the terminal, JSON, history and audit.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "core/text.hpp"

namespace airlock {

enum class ErrorClass : int {
  internal = 1,         // a bug
  usage = 2,            // bad arguments, unreadable/malformed trust root, recipe or site file
  io = 3,               // unreadable input, disk full, folder not writable
  malformed = 10,       // container, tar grammar, order, names, paths, limits, manifest schema
  not_authentic = 11,   // signatures, threshold, trust update
  integrity = 12,       // payload size/hash, file out of order, unlisted, repeated, missing
  policy = 13,          // expired, future, product, downgrade, min_installed, channel
  build_refused = 20,   // the recipe breaks a release rule
  rolled_back = 30,     // apply: hard check failed, rolled back, healthy
  rollback_failed = 31, // apply: rollback failed too
  busy = 32,            // apply: another apply or recovery holds the site
  preflight = 33,       // apply: preflight failed, nothing changed
  audit_broken = 34,    // audit: chain broken
};

// Stable lower-case name ("malformed", "not_authentic", ...) for --json output.
const char* error_class_name(ErrorClass c);
inline int exit_code(ErrorClass c) { return static_cast<int>(c); }

class Error {
 public:
  Error(ErrorClass cls, std::string_view message) : cls_(cls), message_(printable(message)) {}

  ErrorClass cls() const { return cls_; }
  const std::string& message() const { return message_; }
  // Outermost context first.
  const std::vector<std::string>& context() const { return context_; }

  // "outer: inner: message"
  std::string what() const;

  // The same error under another class: the texts are kept as they are (building a new Error
  // from what() would escape them a second time).
  Error reclassed(ErrorClass cls) const {
    Error e = *this;
    e.cls_ = cls;
    return e;
  }

  // Context made of a text of ours and another error's whole text ("ctx: cause"), the cause kept
  // as it is: it is printable already, and escaping it again would show its escapes doubled.
  Error&& with_context(std::string_view ctx, const Error& cause) && {
    context_.insert(context_.begin(), printable(ctx) + cause.what());
    return std::move(*this);
  }
  // More text of this error's own after its message ("message; note").
  Error&& with_note(std::string_view note) && {
    message_ += printable(note);
    return std::move(*this);
  }

  Error&& with_context(std::string_view ctx) && {
    context_.insert(context_.begin(), printable(ctx));
    return std::move(*this);
  }
  Error with_context(std::string_view ctx) const& {
    Error e = *this;
    e.context_.insert(e.context_.begin(), printable(ctx));
    return e;
  }

 private:
  ErrorClass cls_;
  std::string message_;
  std::vector<std::string> context_;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

[[nodiscard]] inline tl::unexpected<Error> fail(ErrorClass cls, std::string message) {
  return tl::unexpected<Error>(Error(cls, std::move(message)));
}
[[nodiscard]] inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

// errno -> io Error naming the path: "open '/x/y': No such file or directory".
[[nodiscard]] Error errno_error(const std::string& what, const std::string& path, int err);

// Propagate with context:  AIRLOCK_TRY(auto x, f(), "reading trust root");
#define AIRLOCK_CONCAT_INNER(a, b) a##b
#define AIRLOCK_CONCAT(a, b) AIRLOCK_CONCAT_INNER(a, b)
#define AIRLOCK_TRY_IMPL(tmp, decl, expr, ctx)                                       \
  auto tmp = (expr);                                                                 \
  if (!tmp) return ::tl::unexpected<::airlock::Error>(std::move(tmp).error().with_context(ctx)); \
  decl = std::move(*tmp)
#define AIRLOCK_TRY(decl, expr, ctx) AIRLOCK_TRY_IMPL(AIRLOCK_CONCAT(_airlock_r_, __LINE__), decl, expr, ctx)
// For Status-returning calls.
#define AIRLOCK_CHECK(expr, ctx)                                                     \
  do {                                                                               \
    auto _airlock_s = (expr);                                                        \
    if (!_airlock_s) return ::tl::unexpected<::airlock::Error>(std::move(_airlock_s).error().with_context(ctx)); \
  } while (0)

}  // namespace airlock
