// Verifying a release kept at a site (a staged release): its signed manifest bytes and signature
// texts, as the bundle carried them, and its payload files in a folder. The same checks as
// verify() (spec §7 steps 2-5: signatures against the trust root given now, the policy at the
// time given now), then every payload file is read once, hashed and, with a staging folder, copied
// into it: what is copied is exactly what was hashed, so a file changed after the check never
// reaches the site.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

struct KeptHead {
  std::string manifest_text;
  std::vector<std::string> signature_texts;  // .minisig texts
  // The whole bundle file's sha256 and size as read when the release was kept: what req.feed is
  // matched against (there is no bundle to read now).
  std::string bundle_sha256;
  std::uint64_t bundle_bytes = 0;
};

// req.bundle_path and req.whole_file_sha256 are not used (there is
// no bundle); with req.feed the match is made on head.bundle_sha256 and head.bundle_bytes. A payload file that is
// missing, not a regular file, of another size or another SHA-256 is an integrity failure (12) naming it. On failure
// nothing stays in staging.
[[nodiscard]] Result<Report> verify_kept(const Request& req, const KeptHead& head, const std::string& payload_dir);

}  // namespace airlock::verifier
