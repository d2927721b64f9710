#include "core/error.hpp"

#include <cstring>

namespace airlock {

const char* error_class_name(ErrorClass c) {
  switch (c) {
    case ErrorClass::internal: return "internal";
    case ErrorClass::usage: return "usage";
    case ErrorClass::io: return "io";
    case ErrorClass::malformed: return "malformed";
    case ErrorClass::not_authentic: return "not_authentic";
    case ErrorClass::integrity: return "integrity";
    case ErrorClass::policy: return "policy";
    case ErrorClass::build_refused: return "build_refused";
    case ErrorClass::rolled_back: return "rolled_back";
    case ErrorClass::rollback_failed: return "rollback_failed";
    case ErrorClass::busy: return "busy";
    case ErrorClass::preflight: return "preflight";
    case ErrorClass::audit_broken: return "audit_broken";
  }
  return "unknown";
}

std::string Error::what() const {
  std::string out;
  for (const auto& c : context_) {
    out += c;
    out += ": ";
  }
  out += message_;
  return out;
}

Error errno_error(const std::string& what, const std::string& path, int err) {
  return Error(ErrorClass::io, what + " '" + path + "': " + std::strerror(err));
}

}  // namespace airlock
