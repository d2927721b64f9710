#include "tests/support/oci_layout.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/tmpdir.hpp"

namespace airlock::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFixedTime = "2026-01-01T00:00:00Z";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

void must(const std::string& cmd) {
  auto r = run(cmd);
  if (r.status != 0) throw std::runtime_error("`" + cmd + "` failed: " + r.output);
}

}  // namespace

std::string make_oci_image(const fs::path& layout, const std::string& tag, const LayerFiles& files) {
  const std::string image = q(layout.string() + ":" + tag);
  if (!fs::exists(layout / "oci-layout")) must("umoci init --layout " + q(layout));
  must("umoci new --image " + image);
  TempDir src;
  for (const auto& [name, content] : files) {
    spit(src / name, content);
    must("touch -d " + std::string(kFixedTime) + " " + q(src / name));
    must("umoci insert --rootless --image " + image + " --history.created " + kFixedTime + " " + q(src / name) + " /" +
         name);
  }
  must("umoci config --image " + image + " --created " + kFixedTime + " --history.created " + kFixedTime);
  auto index = nlohmann::json::parse(slurp(layout / "index.json"));
  for (const auto& m : index["manifests"])
    if (m["annotations"]["org.opencontainers.image.ref.name"] == tag) return m["digest"].get<std::string>();
  throw std::runtime_error("umoci left no tag " + tag + " in " + layout.string());
}

std::vector<std::string> layout_blobs(const fs::path& layout) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(layout / "blobs/sha256"))
    out.push_back("sha256:" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace airlock::test
