// The happy path end to end: a crafted bundle verifies, its files land in staging byte-identical
// with the manifest's modes, and the report describes what was read. Plus the truncation sweep:
// every prefix of a valid bundle fails cleanly (never succeeds, never crashes, staging cleaned).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using RoundTrip = VerifierTest;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST_F(RoundTrip, ExtractsFilesByteIdenticalWithManifestModes) {
  const craft::BundleSpec spec;
  const mode_t old_mask = ::umask(077);  // the manifest decides modes, not the umask
  auto r = run(good(spec));
  ::umask(old_mask);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  for (const auto& f : spec.files) {
    EXPECT_EQ(test::slurp(staging / f.path), f.content) << f.path;
    EXPECT_EQ(mode_of(staging / f.path), f.executable ? 0755u : 0644u) << f.path;
  }
  EXPECT_EQ(r->files_checked, spec.files.size());
  EXPECT_EQ(r->staging_dir, staging.string());
}

TEST_F(RoundTrip, FilesInterleavedAcrossFoldersAllLand) {
  craft::BundleSpec spec;
  for (const char* p : {"a/x", "b/y", "a/z", "a/deep/w", "top", "b/deeper/still/v", "a/q"})
    spec.files.push_back({p, std::string("content of ") + p + "\n", false});
  auto r = run(good(spec));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  for (const auto& f : spec.files) EXPECT_EQ(test::slurp(staging / f.path), f.content) << f.path;
}

TEST_F(RoundTrip, ReportDescribesWhatWasRead) {
  const auto b = good();
  test::spit(bundle_path, b.bytes());
  auto req = request();
  req.whole_file_sha256 = true;
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  const auto bytes = b.bytes();
  EXPECT_EQ(r->bundle_bytes, bytes.size());
  EXPECT_EQ(r->bundle_sha256, craft::sha256_hex(bytes));
  EXPECT_EQ(r->manifest_sha256, craft::sha256_hex(b.manifest));
  EXPECT_EQ(r->manifest.release.product, "bench");
  ASSERT_EQ(r->signatures.size(), 1u);
  EXPECT_EQ(r->signatures[0].key_id, hq.id());
  EXPECT_EQ(r->signatures[0].key_name, "hq-2026");
  EXPECT_TRUE(r->signatures[0].counted);
  EXPECT_EQ(r->valid_signatures, 1);
  EXPECT_EQ(r->threshold, 1);
  EXPECT_EQ(r->verified_at, at);
  EXPECT_EQ(r->clock_skew_seconds, 300);
  std::uint64_t total = 0;
  for (const auto& f : craft::BundleSpec{}.files) total += f.content.size();
  EXPECT_EQ(r->bytes_checked, total);
}

TEST_F(RoundTrip, TheWholeFileIsHashedOnlyWhenAsked) {
  const auto b = good();
  auto r = run(b, false);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->bundle_sha256, "");
  EXPECT_EQ(r->bundle_bytes, b.bytes().size());
}

// Request::stop: polled before the payload and before every chunk; the run then fails and
// staging is removed as on any failure.
TEST_F(RoundTrip, StopEndsTheRunAndRemovesStaging) {
  craft::BundleSpec spec;
  spec.files.push_back({"big/blob", std::string(5u << 20, 'z'), false});
  test::spit(bundle_path, good(spec).bytes());
  const auto before = snapshot(dir.path());
  for (int allowed : {0, 1, 3}) {
    auto req = request();
    int polls = 0;
    req.stop = [&] { return polls++ >= allowed; };
    auto r = verify(req);
    ASSERT_FALSE(r.has_value()) << "stop after " << allowed << " polls was ignored";
    EXPECT_NE(r.error().what().find(kStoppedMessage), std::string::npos) << r.error().what();
    EXPECT_EQ(snapshot(dir.path()), before) << "staging left after a stop at poll " << allowed;
  }
}

TEST_F(RoundTrip, VerifyOnlyWritesNothing) {
  test::spit(bundle_path, good().bytes());
  const auto before = snapshot(dir.path());
  auto r = verify(request(false));
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_FALSE(r->staging_dir.has_value());
  EXPECT_EQ(snapshot(dir.path()), before);
}

TEST_F(RoundTrip, SplitPartsVerifyAsOneStream) {
  const auto bytes = good().bytes();
  const auto cut = bytes.size() / 3;
  test::spit(dir / "bench-4.5.3.tar.zst.part0001", bytes.substr(0, cut));
  test::spit(dir / "bench-4.5.3.tar.zst.part0002", bytes.substr(cut));
  auto req = request(false);
  req.whole_file_sha256 = true;
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->bundle_sha256, craft::sha256_hex(bytes));
  EXPECT_TRUE(r->part_sha256.empty());  // not asked for
}

// A feed entry lists the whole file's sha256, its size and each part's sha256: all from the one
// pass that verifies the bundle, an empty part included.
TEST_F(RoundTrip, SplitPartsAreHashedEachInTheSamePass) {
  const auto bytes = good().bytes();
  const auto cut = bytes.size() / 3;
  const std::vector<std::string> parts = {bytes.substr(0, cut), bytes.substr(cut, cut), "", bytes.substr(2 * cut)};
  for (std::size_t i = 0; i < parts.size(); ++i)
    test::spit(dir / ("bench-4.5.3.tar.zst.part000" + std::to_string(i + 1)), parts[i]);
  auto req = request(false);
  req.whole_file_sha256 = true;
  req.part_sha256 = true;
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(r->bundle_sha256, craft::sha256_hex(bytes));
  EXPECT_EQ(r->bundle_bytes, bytes.size());
  ASSERT_EQ(r->part_sha256.size(), parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) EXPECT_EQ(r->part_sha256[i], craft::sha256_hex(parts[i])) << i;

  // A whole file has no parts.
  test::spit(bundle_path, bytes);
  r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_TRUE(r->part_sha256.empty());
}

TEST_F(RoundTrip, ProgressIsReportedAndOnManifestSeesTheManifest) {
  auto req = request(true);
  test::spit(bundle_path, good().bytes());
  std::string product;
  std::uint64_t last_done = 0, total = 0;
  req.on_manifest = [&](const Manifest& m) -> Status {
    product = m.release.product;
    EXPECT_FALSE(fs::exists(staging / "notes"));  // no payload byte written yet
    return {};
  };
  req.on_progress = [&](const Progress& p) {
    last_done = p.bytes_done;
    total = p.bytes_total;
  };
  auto r = verify(req);
  ASSERT_TRUE(r.has_value()) << r.error().what();
  EXPECT_EQ(product, "bench");
  EXPECT_EQ(last_done, r->bytes_checked);
  EXPECT_EQ(total, r->bytes_checked);
}

TEST_F(RoundTrip, OnManifestErrorAbortsBeforeAnyWrite) {
  auto req = request(true);
  test::spit(bundle_path, good().bytes());
  const auto before = snapshot(dir.path());
  req.on_manifest = [](const Manifest&) -> Status { return fail(ErrorClass::io, "not enough room"); };
  auto r = verify(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::io);
  EXPECT_EQ(snapshot(dir.path()), before);
}

TEST_F(RoundTrip, MissingBundleIsAnIoErrorAndStagingIsNotLeftBehind) {
  auto r = verify(request(true));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().cls(), ErrorClass::io) << r.error().what();
  EXPECT_FALSE(fs::exists(staging));
}

// ninja's BuildLogTest.Truncate: every prefix of a good bundle is refused cleanly.
TEST_F(RoundTrip, EveryTruncationFailsCleanly) {
  craft::BundleSpec spec;
  spec.files.resize(1);  // keep the sweep small: manifest, one signature, one note
  const auto bytes = good(spec).bytes();
  // An existing empty staging folder (cheaper than creating one per cut): it must stay, empty.
  fs::create_directories(staging);
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    test::spit(bundle_path, bytes.substr(0, len));
    auto r = verify(request(true));
    ASSERT_FALSE(r.has_value()) << "a bundle cut at " << len << " of " << bytes.size() << " bytes was accepted";
    EXPECT_EQ(r.error().cls(), ErrorClass::malformed) << "cut at " << len << ": " << r.error().what();
    ASSERT_TRUE(fs::is_directory(staging) && fs::is_empty(staging)) << "cut at " << len;
  }
  // The whole bundle passes: the sweep really did cut a good bundle.
  test::spit(bundle_path, bytes);
  ASSERT_TRUE(verify(request(true)).has_value());
  fs::remove(bundle_path);
  fs::remove_all(staging);
  EXPECT_TRUE(snapshot(dir.path()).empty());  // nothing but the bundle was ever there
}

// Every header byte is under the checksum, every manifest byte under the signature, every
// payload byte under its SHA-256, every padding and trailing byte must be zero: so no single
// corrupted byte of the archive can be accepted — but for the signature's untrusted comment. (Sampled with a fixed
// stride to stay fast.)
TEST_F(RoundTrip, NoSingleByteCorruptionOfTheArchiveIsAccepted) {
  craft::BundleSpec spec;
  spec.files.resize(2);
  const auto b = good(spec);
  const auto tar = b.tar();
  // The one unauthenticated text: the signature's untrusted comment (after its prefix).
  const auto sig_at = craft::tar_entry(b.head[0]).size() + 512;
  const auto& sig = b.head[1].data;
  const auto comment_from = sig_at + std::string("untrusted comment: ").size();
  const auto comment_to = sig_at + sig.find('\n');
  fs::create_directories(staging);
  int tried = 0;
  for (std::size_t pos = 0; pos < tar.size(); pos += 13) {
    if (pos >= comment_from && pos < comment_to) continue;
    auto bad = tar;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x01);  // (0x20 would turn a NUL terminator into an equivalent space)
    test::spit(bundle_path, craft::zstd_frame(bad, 1));
    auto r = verify(request(true));
    ASSERT_FALSE(r.has_value()) << "accepted with byte " << pos << " of the tar flipped";
    ASSERT_TRUE(fs::is_empty(staging)) << "byte " << pos;
    ++tried;
  }
  EXPECT_GT(tried, 200);
  test::spit(bundle_path, craft::zstd_frame(tar, 1));
  EXPECT_TRUE(verify(request(true)).has_value());  // the control: unflipped, it passes
}

}  // namespace
}  // namespace airlock::verifier::testing
