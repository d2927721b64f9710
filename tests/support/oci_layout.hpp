// Real OCI image layouts for tests, made offline by umoci: one layer per file, every time fixed
// (file mtimes, history and config `created`), so the same files give the same digests.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace airlock::test {

using LayerFiles = std::vector<std::pair<std::string, std::string>>;  // file name -> content

// Adds image `tag` to the layout at `layout` (made when missing), one layer per file, in order.
// Returns the image's manifest digest ("sha256:<hex>"); throws when umoci fails.
std::string make_oci_image(const std::filesystem::path& layout, const std::string& tag, const LayerFiles& files);

// The digests of every blob file under `layout`/blobs/sha256, sorted.
std::vector<std::string> layout_blobs(const std::filesystem::path& layout);

}  // namespace airlock::test
