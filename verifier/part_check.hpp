// When a split bundle (spec §9) fails to verify and the feed lists its parts' hashes (spec §10
// `parts`), which part is missing, damaged or out of place: the stick to fetch again.
#pragma once

#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/model/feed.hpp"

namespace airlock::verifier {

// For `path` read as parts (no whole file at `path`): the feed entry with `parts` that most present
// parts match decides. A part it lists that is absent is an io error (3) naming every missing part;
// a part whose bytes differ is an integrity error (12) naming it (and the place it belongs when its
// bytes are another listed part's). nullopt when the bundle is not split, no entry lists parts, no
// part matches any entry, or every part matches (the failure lies elsewhere).
std::optional<Error> check_parts_against_feed(const std::string& path, const Feed& feed);

}  // namespace airlock::verifier
