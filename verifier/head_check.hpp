// Checking a bundle's head alone: spec §7 steps 1-5 (the manifest and signature entries read, the
// signatures counted against the trust root at the verification time and at release.created, the
// manifest parsed, the size limit and the caller's policy) without reading a byte past the last
// signature entry. It costs what reading the head costs, whatever the payload's size, so a whole
// folder of bundles can be judged before any of them is verified in full. It proves the signed
// manifest, never the payload: a payload file, the end of the stream and a [trust_update] (which
// lies in the payload) are left to verify(). Used by `airlock scan` (applier/scan.hpp).
#pragma once

#include "core/error.hpp"
#include "verifier/verifier.hpp"

namespace airlock::verifier {

// req.staging_dir, on_manifest, on_progress and whole_file_sha256 are not used. The Report's
// files_checked and bytes_checked are 0; bundle_bytes is what the reader took from the source.
[[nodiscard]] Result<Report> verify_head(const Request& req);

}  // namespace airlock::verifier
