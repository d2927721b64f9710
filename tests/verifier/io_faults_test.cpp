// verify --extract on a failing disk: every mutating filesystem call of a clean extraction of a
// real bundle (built by our bundler from manifests/example) is failed in turn, once with EIO and
// once with ENOSPC, through the filesystem seam (core/sys/sys.hpp). Each run must fail with exit class
// io (3) — a full disk is io, as in the real-full-tmpfs test of the applier — with a message naming
// the file or folder it was writing, and leave nothing behind: no staging folder, the bundle's
// folder exactly as before.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "bundler/bundler.hpp"
#include "core/sys/sys.hpp"
#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

class IoFaults : public VerifierTest {
 protected:
  void SetUp() override {
    auto built = build_example();
    ASSERT_TRUE(built.has_value()) << built.error().what();
  }

  // Mutating calls of a clean extraction (the staging folder removed again afterwards).
  std::uint64_t clean_calls() {
    std::uint64_t n = 0;
    {
      sys::ArmedFault count({});
      auto r = verify(request(true));
      EXPECT_TRUE(r.has_value()) << r.error().what();
      n = count.calls();
    }
    fs::remove_all(staging);
    return n;
  }

  void sweep(int err) {
    const std::uint64_t calls = clean_calls();
    ASSERT_GE(calls, 10u) << "the example bundle should need folders, files and writes";
    const auto before = snapshot(dir.path());
    for (std::uint64_t n = 1; n <= calls; ++n) {
      const std::string label =
          std::string(std::strerror(err)) + " at mutating call " + std::to_string(n) + "/" + std::to_string(calls);
      std::string op;
      bool fired = false;
      Result<Report> r = fail(ErrorClass::internal, "not run");
      {
        sys::ArmedFault fault({err, n});
        r = verify(request(true));
        op = fault.fired_op();
        fired = fault.fired();
      }
      if (!fired) {  // removing the emptied partial folder: a full disk does not fail a removal
        EXPECT_EQ(err, ENOSPC) << label;
        EXPECT_TRUE(r.has_value()) << label;
        fs::remove_all(staging);
        continue;
      }
      ASSERT_FALSE(r.has_value()) << label << " (" << op << "): extraction succeeded on a failing disk";
      if (std::getenv("AIRLOCK_SHOW_ERRORS"))
        std::cerr << "  " << label << " (" << op << "): " << r.error().what() << "\n";
      EXPECT_EQ(r.error().cls(), ErrorClass::io) << label << " (" << op << "): " << r.error().what();
      // The message names what was being written: a path inside staging, or staging itself.
      EXPECT_NE(r.error().what().find(staging.string()), std::string::npos) << label << ": " << r.error().what();
      EXPECT_NE(r.error().what().find(std::strerror(err)), std::string::npos) << label << ": " << r.error().what();
      EXPECT_FALSE(fs::exists(staging)) << label << " (" << op << "): staging left behind";
      EXPECT_EQ(snapshot(dir.path()), before) << label << " (" << op << ")";
    }
    // And the disk working again, the same bundle extracts.
    auto ok = verify(request(true));
    EXPECT_TRUE(ok.has_value()) << ok.error().what();
  }
};

TEST_F(IoFaults, ExtractFailingWithEioAtEveryWriteIsIoAndLeavesNothing) { sweep(EIO); }
TEST_F(IoFaults, ExtractFailingWithEnospcAtEveryWriteIsIoAndLeavesNothing) { sweep(ENOSPC); }

// The bundle file shrinks while it is being verified (copied over with `cp`, which truncates
// first). The verifier reads it through a mapping (core/sys/mapped_file.hpp), where a read past the
// new end is a SIGBUS: it must come back as an io error naming the bundle, with the staging
// folder removed, and the process alive to say so.
using ShrinkingBundle = VerifierTest;

TEST_F(ShrinkingBundle, ABundleCutWhileItIsReadIsAnIoErrorAndLeavesNothing) {
  craft::BundleSpec spec;
  std::string layer(3'000'000, '\0');
  std::uint32_t x = 7;
  for (auto& c : layer) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  spec.files.push_back({"images/layer.bin", layer, false});
  test::spit(bundle_path, good(spec).bytes());
  auto req = request(true);
  req.on_manifest = [&](const Manifest&) -> Status {  // the head is read; no payload byte yet
    fs::resize_file(bundle_path, 8192);
    return {};
  };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value()) << "a bundle cut to 8 KiB verified";
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_NE(r.error().what().find(bundle_path.string() + ": could not read the bytes at offset"), std::string::npos)
      << r.error().what();
  EXPECT_FALSE(fs::exists(staging));
}

}  // namespace
}  // namespace airlock::verifier::testing
