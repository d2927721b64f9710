// A demo-product bundle made by hand (tests/support/craft) and signed by the demo key the test
// sites trust, for migrations `airlock build` refuses: the site must refuse them on its own.
#pragma once

#include <map>
#include <string>

#include "tests/applier/fixture.hpp"
#include "tests/support/craft.hpp"

namespace airlock::test {

// Release `version` of the demo product with one migration (id, up SQL, down SQL); `release_toml`
// goes into [release] (e.g. min_installed). Returns the bundle's path in `dir`.
inline std::string crafted_migration_bundle(const TempDir& dir, const std::string& version, const std::string& id,
                                            const std::string& up, const std::string& down,
                                            const std::string& min_installed = "") {
  craft::BundleSpec spec;
  spec.product = "demo";
  spec.version = version;
  if (!min_installed.empty()) spec.min_installed = min_installed;
  spec.files = {{"notes/en.md", "# " + version + "\n", false},
                {"migrations/" + id + ".up.sql", up, false},
                {"migrations/" + id + ".down.sql", down, false}};
  spec.extra_toml = "\n[[migrations]]\nid = \"" + id + "\"\ndatabase = \"main\"\nup = \"migrations/" + id +
                    ".up.sql\"\ndown = \"migrations/" + id + ".down.sql\"\n";
  craft::Key key{"demo-hq", demo_key()};
  auto path = dir / ("crafted-" + version + ".tar.zst");
  craft::good_bundle(spec, {&key}).write(path);
  return path.string();
}

}  // namespace airlock::test
