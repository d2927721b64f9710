// build(): the example release, checked with stock tar, zstd, sha256sum and minisign.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>

#include <sstream>

#include "bundler/bundler.hpp"
#include "core/crypto/hash.hpp"
#include "core/model/manifest.hpp"
#include "tests/bundler/bundler_fixture.hpp"

namespace fs = std::filesystem;
using namespace airlock;
using namespace airlock::test;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(Build, ExampleIsReproducibleWhateverTheWorkerCount) {
  TempDir t;
  auto key = demo_key("demo-hq");
  auto a = build_with(kExample, (t / "a.tar.zst").string(), {key}, std::nullopt, 1);
  ASSERT_TRUE(a) << a.error().what();
  auto b = build_with(kExample, (t / "b.tar.zst").string(), {key}, std::nullopt, 3);
  ASSERT_TRUE(b) << b.error().what();
  std::string bytes = slurp(t / "a.tar.zst");
  EXPECT_GT(bytes.size(), 0u);
  EXPECT_EQ(bytes, slurp(t / "b.tar.zst"));
  EXPECT_EQ(a->bundle_bytes, bytes.size());
  EXPECT_EQ(a->manifest_sha256, b->manifest_sha256);
  EXPECT_EQ(a->key_ids, std::vector<std::string>{"F00D22F80F4116F1"});
}

TEST(Build, StockTarListsHeadThenFilesInManifestOrderAndZstdTestPasses) {
  TempDir t;
  auto out = t / "demo.tar.zst";
  auto r = build_with(kExample, out.string(), {demo_key("demo-hq"), demo_key("demo-hq2")});
  ASSERT_TRUE(r) << r.error().what();
  auto z = run("zstd -q -t " + q(out));
  EXPECT_EQ(z.status, 0) << z.output;
  auto list = run("tar --zstd -tf " + q(out));
  ASSERT_EQ(list.status, 0) << list.output;
  std::vector<std::string> expect{"manifest.toml", "signatures/521AE1523F9C4449.minisig",
                                  "signatures/F00D22F80F4116F1.minisig"};
  for (const auto& f : r->manifest.files) expect.push_back(f.path);
  EXPECT_EQ(lines(list.output), expect);
  // Archive order is byte-wise by payload path.
  for (std::size_t i = 1; i < r->manifest.files.size(); ++i)
    EXPECT_LT(r->manifest.files[i - 1].path, r->manifest.files[i].path);
  EXPECT_EQ(r->manifest.files.size(), 8u);  // 4 migration files, 1 patch, 3 notes
}

TEST(Build, StockExtractionMatchesManifestHashesAndStockMinisignVerifies) {
  TempDir t;
  auto out = t / "demo.tar.zst";
  auto r = build_with(kExample, out.string(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  fs::create_directories(t / "x");
  auto x = run("tar --zstd -xf " + q(out) + " -C " + q(t / "x"));
  ASSERT_EQ(x.status, 0) << x.output;
  std::string manifest = slurp(t / "x/manifest.toml");
  EXPECT_EQ(to_hex(sha256(manifest)), r->manifest_sha256);
  auto parsed = parse_manifest(manifest);
  ASSERT_TRUE(parsed) << parsed.error().what();
  std::string sums;
  for (const auto& f : parsed->files) sums += f.sha256 + "  " + f.path + "\n";
  spit(t / "sums", sums);
  auto c = run("cd " + q(t / "x") + " && sha256sum -c --strict " + q(t / "sums"));
  EXPECT_EQ(c.status, 0) << c.output;
  // Payload bytes are the sources'.
  EXPECT_EQ(slurp(t / "x/migrations/0002_add_price.up.sql"),
            slurp(kSource + "/manifests/example/migrations/0002_add_price.up.sql"));
  EXPECT_EQ(slurp(t / "x/config/topology.patch.toml"),
            slurp(kSource + "/manifests/example/config/topology.patch.toml"));
  auto v = run("cd " + q(t / "x") + " && minisign -V -H -p " + q(kSource + "/keys/demo-hq.pub") +
               " -m manifest.toml -x signatures/F00D22F80F4116F1.minisig");
  EXPECT_EQ(v.status, 0) << v.output;
  EXPECT_NE(v.output.find("Trusted comment: airlock demo 1.1.0 manifest-sha256:" + r->manifest_sha256),
            std::string::npos)
      << v.output;
}

TEST(Build, ManifestCarriesTheRecipeDerivedPaths) {
  TempDir t;
  auto r = build_with(kExample, (t / "d.tar.zst").string(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  const auto& m = r->manifest;
  EXPECT_EQ(m.release.product, "demo");
  EXPECT_EQ(m.release.version.text, "1.1.0");
  EXPECT_EQ(format_rfc3339(m.release.created), "2026-01-01T00:00:00Z");
  ASSERT_EQ(m.migrations.size(), 2u);
  EXPECT_EQ(m.migrations[1].up, "migrations/0002_add_price.up.sql");
  EXPECT_EQ(m.migrations[1].down, "migrations/0002_add_price.down.sql");
  ASSERT_EQ(m.config.size(), 1u);
  EXPECT_EQ(m.config[0].patch, "config/topology.patch.toml");
  ASSERT_EQ(m.notes.size(), 3u);
  EXPECT_EQ(m.notes[1].path, "notes/pt-BR.md");
  EXPECT_EQ(m.images.size(), 2u);
}

TEST(Build, TarHeadersHaveCreatedMtimeRootOwnerAndManifestModes) {
  RecipeDir d;
  d.file("tools/run.sh", "#!/bin/sh\necho hi\n");
  d.file("tools/data.txt", "data\n");
  ::chmod((d.dir / "tools/run.sh").c_str(), 0755);
  auto recipe = d.recipe("[[files]]\nfrom = \"tools\"\nto = \"bin\"\n");
  auto r = build_with(recipe, d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  const FileEntry* script = r->manifest.find_file("bin/run.sh");
  ASSERT_NE(script, nullptr);
  EXPECT_TRUE(script->executable);
  EXPECT_FALSE(r->manifest.find_file("bin/data.txt")->executable);
  auto v = run("TZ=UTC tar --zstd --numeric-owner --full-time -tvf " + q(d.out()));
  ASSERT_EQ(v.status, 0) << v.output;
  for (const auto& l : lines(v.output)) {
    EXPECT_NE(l.find(" 0/0 "), std::string::npos) << l;
    EXPECT_NE(l.find("2026-01-01 00:00:00"), std::string::npos) << l;
    bool exec = l.find("bin/run.sh") != std::string::npos;
    EXPECT_EQ(l.rfind(exec ? "-rwxr-xr-x" : "-rw-r--r--", 0), 0u) << l;
  }
}

TEST(Build, SourceDateEpochIsUsedWhenTheRecipeHasNoCreated) {
  RecipeDir d;
  d.file("en.md", "notes\n");
  d.file("recipe.toml",
         "[release]\nproduct = \"demo\"\nversion = \"2.0.0\"\n[[notes]]\nlang = \"en\"\npath = \"en.md\"\n");
  auto recipe = (d.dir / "recipe.toml").string();
  auto r = build_with(recipe, d.out(), {demo_key("demo-hq")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("SOURCE_DATE_EPOCH"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(d.out()));

  r = build_with(recipe, d.out(), {demo_key("demo-hq")}, 1767225600);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(format_rfc3339(r->manifest.release.created), "2026-01-01T00:00:00Z");
  auto v = run("TZ=UTC tar --zstd --full-time -tvf " + q(d.out()));
  EXPECT_NE(v.output.find("2026-01-01 00:00:00 notes/en.md"), std::string::npos) << v.output;
  // The recipe's own `created` wins over SOURCE_DATE_EPOCH.
  auto e = build_with(kExample, (d.dir / "e.tar.zst").string(), {demo_key("demo-hq")}, 1);
  ASSERT_TRUE(e) << e.error().what();
  EXPECT_EQ(format_rfc3339(e->manifest.release.created), "2026-01-01T00:00:00Z");
}

TEST(Build, SourceThatShrinksWhileBeingReadIsRefusedAndNothingAppears) {
  RecipeDir d;
  d.file("blob.bin", std::string(6 << 20, 'a'));
  auto recipe = d.recipe("[[files]]\nfrom = \"blob.bin\"\nto = \"data/blob.bin\"\n");
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.out_path = d.out();
  req.keys = {demo_key("demo-hq")};
  bool changed = false;
  // Each source is read once; progress comes every 4 MiB: cut the file short right then, so the
  // tar header (written from the size at open) no longer matches what can be read.
  req.on_progress = [&](const bundler::BuildProgress& p) {
    if (!changed && p.current_file == "data/blob.bin" && p.bytes_done < p.bytes_total) {
      spit(d.dir / "blob.bin", std::string(1000, 'b'));
      changed = true;
    }
  };
  auto r = bundler::build(req);
  ASSERT_TRUE(changed);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("changed during the build"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(d.out()));
  for (const auto& e : fs::directory_iterator(d.dir.path())) {
    EXPECT_EQ(e.path().filename().string().find("out.tar.zst"), std::string::npos) << e.path();
    EXPECT_EQ(e.path().filename().string().find(".airlock-payload"), std::string::npos) << e.path();
  }
}

TEST(Build, ProgressIsReportedUpToTheTotal) {
  TempDir t;
  bundler::BuildRequest req;
  req.recipe_path = kExample;
  req.out_path = (t / "p.tar.zst").string();
  req.keys = {demo_key("demo-hq")};
  std::vector<bundler::BuildProgress> seen;
  req.on_progress = [&](const bundler::BuildProgress& p) { seen.push_back(p); };
  auto r = bundler::build(req);
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().bytes_done, r->payload_bytes);
  EXPECT_EQ(seen.back().bytes_total, r->payload_bytes);
}

TEST(Build, LargePayloadSpansSeveralFramesThatStockZstdAndSignAccept) {
  RecipeDir d;
  {
    // 150 MiB of zeros (sparse, compresses at memory speed): more than two 64 MiB payload frames.
    std::FILE* f = std::fopen((d.dir / "big.bin").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(::ftruncate(fileno(f), 150ll << 20), 0);
    std::fclose(f);
  }
  auto recipe = d.recipe("[build]\nlevel = 1\n[[files]]\nfrom = \"big.bin\"\nto = \"data/big.bin\"\n");
  auto r = build_with(recipe, d.out(), {demo_key("demo-hq")}, std::nullopt, 2);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->payload_bytes, (150ull << 20) + 8);  // + "# notes\n"
  std::string bytes = slurp(d.out());
  int frames = 0;
  for (std::size_t off = 0; off < bytes.size(); ++frames) {
    std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + off, bytes.size() - off);
    ASSERT_FALSE(ZSTD_isError(n));
    off += n;
  }
  EXPECT_GE(frames, 5);  // manifest, signatures, at least three payload frames
  EXPECT_EQ(run("zstd -q -t " + q(d.out())).status, 0);
  bundler::SignRequest req;
  req.bundle_path = d.out();
  req.key = demo_key("demo-hq2");
  auto s = bundler::sign(req);
  ASSERT_TRUE(s) << s.error().what();
  auto list = run("tar --zstd -tvf " + q(d.out()));
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find(std::to_string(150ll << 20) + " 2026-01-01 00:00 data/big.bin"), std::string::npos)
      << list.output;
}

// The head is reserved from the sizes stat() gave before any source was read; a source that has
// another size once it is opened changed during the build and is refused, leaving nothing behind.
TEST(Build, SourceThatGrowsBeforeItIsReadIsRefused) {
  RecipeDir d;
  d.file("first.bin", std::string(6 << 20, 'a'));
  d.file("second.txt", "999 bytes? no, a few");
  auto recipe = d.recipe("[[files]]\nfrom = \"first.bin\"\nto = \"a/first.bin\"\n"
                         "[[files]]\nfrom = \"second.txt\"\nto = \"b/second.txt\"\n");
  bundler::BuildRequest req;
  req.recipe_path = recipe;
  req.out_path = d.out();
  req.keys = {demo_key("demo-hq")};
  bool grown = false;
  req.on_progress = [&](const bundler::BuildProgress& p) {
    if (!grown && p.current_file == "a/first.bin") {
      spit(d.dir / "second.txt", std::string(100000, 'b'));  // five more digits in the manifest
      grown = true;
    }
  };
  auto r = bundler::build(req);
  ASSERT_TRUE(grown);
  ASSERT_FALSE(r);
  EXPECT_EQ(exit_code(r.error().cls()), 3);
  EXPECT_NE(r.error().what().find("changed during the build"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("second.txt"), std::string::npos) << r.error().what();
  EXPECT_FALSE(fs::exists(d.out()));
  for (const auto& e : fs::directory_iterator(d.dir.path()))
    EXPECT_EQ(e.path().filename().string().find("out.tar.zst"), std::string::npos) << e.path();
}

// The head frames are stored: their length follows from the manifest's and the signatures'
// lengths, which is what lets build reserve them; stock zstd and tar still read the bundle.
TEST(Build, HeadFramesAreStoredAndThePayloadFollowsThem) {
  RecipeDir d;
  d.file("x.txt", std::string(300000, 'x'));
  auto recipe = d.recipe("[[files]]\nfrom = \"x.txt\"\nto = \"x.txt\"\n");
  auto r = build_with(recipe, d.out(), {demo_key("demo-hq"), demo_key("demo-hq2")});
  ASSERT_TRUE(r) << r.error().what();
  const std::string bytes = slurp(d.out());
  EXPECT_EQ(r->bundle_bytes, bytes.size());
  // Frame 1: the manifest entry, stored (block type 0).
  ASSERT_GT(bytes.size(), 9u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x28\xB5\x2F\xFD", 4));
  EXPECT_EQ(static_cast<unsigned char>(bytes[6]) & 0x06, 0) << "raw block";
  EXPECT_EQ(run("zstd -q -t " + q(d.out())).status, 0);
  auto list = run("tar --zstd -tf " + q(d.out()));
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_EQ(list.output.rfind("manifest.toml\nsignatures/", 0), 0u) << list.output;
  EXPECT_NE(list.output.find("\nx.txt\n"), std::string::npos) << list.output;
}

TEST(Build, BytesDependOnNeitherTheRecipeLocationNorFileTimes) {
  TempDir t;
  fs::copy(kSource + "/manifests/example", t / "elsewhere", fs::copy_options::recursive);
  fs::last_write_time(t / "elsewhere/notes/en.md", fs::file_time_type::clock::now() - std::chrono::hours(1000));
  auto a = build_with(kExample, (t / "a.tar.zst").string(), {demo_key("demo-hq")});
  auto b = build_with((t / "elsewhere/recipe.toml").string(), (t / "b.tar.zst").string(), {demo_key("demo-hq")});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(slurp(t / "a.tar.zst"), slurp(t / "b.tar.zst"));
}

TEST(Build, SameKeyTwiceOrNoKeyIsAUsageError) {
  TempDir t;
  auto r = build_with(kExample, (t / "a.tar.zst").string(), {demo_key("demo-hq"), demo_key("demo-hq")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("F00D22F80F4116F1"), std::string::npos) << r.error().what();
  r = build_with(kExample, (t / "a.tar.zst").string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_FALSE(fs::exists(t / "a.tar.zst"));
}

TEST(Build, CreatedWithOffsetAndFractionKeepsItsTextAndTarUsesWholeSeconds) {
  RecipeDir d;
  d.file("en.md", "n\n");
  d.file("recipe.toml",
         "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T02:00:00.75+02:00\n"
         "[[notes]]\nlang = \"en\"\npath = \"en.md\"\n");
  auto r = build_with((d.dir / "recipe.toml").string(), d.out(), {demo_key("demo-hq")});
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(format_rfc3339(r->manifest.release.created), "2026-01-01T02:00:00.75+02:00");
  auto v = run("TZ=UTC tar --zstd --full-time -tvf " + q(d.out()));
  EXPECT_NE(v.output.find("2026-01-01 00:00:00 manifest.toml"), std::string::npos) << v.output;
  // A local date-time has no instant: refused as a malformed recipe.
  d.file("recipe.toml", "[release]\nproduct = \"demo\"\nversion = \"1.0.0\"\ncreated = 2026-01-01T02:00:00\n");
  r = build_with((d.dir / "recipe.toml").string(), d.out() + ".2", {demo_key("demo-hq")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  EXPECT_NE(r.error().what().find("release.created"), std::string::npos) << r.error().what();
}
