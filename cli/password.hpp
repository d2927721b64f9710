// Where secret-key passwords come from, for the command-line front end only (it may use the
// terminal; libraries may not). In order:
//  1. the file named by the environment variable AIRLOCK_PASSWORD_FILE: its first line, without
//     the line ending (for CI and scripts; keep the file readable by its owner only);
//  2. a prompt on /dev/tty with echo off, when stdin or stderr is a terminal;
//  3. otherwise an ErrorClass::usage error saying to set AIRLOCK_PASSWORD_FILE.
#pragma once

#include <string>

#include "core/crypto/minisign.hpp"
#include "core/error.hpp"

namespace airlock::cli {

using PasswordProvider = minisign::PasswordProvider;

// For an existing key: asked lazily, only if the key file turns out to be encrypted.
[[nodiscard]] PasswordProvider make_password_provider(std::string key_path);

// For `airlock keygen`: from the file, or asked twice on the terminal (the two must match).
// An empty password is refused (--no-password is the explicit way to an unencrypted key).
[[nodiscard]] Result<std::string> ask_new_password(std::string key_path);

}  // namespace airlock::cli
