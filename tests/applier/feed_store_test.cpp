// The site's feed store (applier/feed_store.hpp) with feeds signed by the demo key and a real site
// folder: every mutating call of an accept failed in turn (EIO, ENOSPC) leaves the site on the old
// feed or the new one, readable, with its audit chain intact, and a retry finishes the job; the
// entry a bundle file is matched to.
#include "applier/feed_store.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "core/model/feed.hpp"
#include "core/sys/sys.hpp"
#include "tests/applier/fixture.hpp"
#include "verifier/feed.hpp"

namespace airlock::test {
namespace {

FeedEntry entry(const std::string& version, const std::string& file, Channel ch, bool critical, bool deprecated) {
  return {version, file, std::string(64, 'b'), 10, {}, ch, critical, deprecated};
}

// A feed for "demo" signed by the demo key, written as <folder>/feed.toml.
std::string publish(const TempDir& dir, const std::string& folder, std::int64_t serial,
                    std::vector<FeedEntry> entries) {
  Feed f;
  f.product = "demo";
  f.serial = serial;
  f.published = Timestamp{1767225600, 0, 0};
  f.entries = std::move(entries);
  const std::string bytes = render_feed(f);
  const auto d = dir / folder;
  fs::create_directories(d);
  spit(d / "feed.toml", bytes);
  const auto sk = demo_key();
  spit(d / verifier::feed_signature_name("feed.toml", sk.key_id),
       minisign::format_signature(minisign::sign(sk, bytes, "airlock feed")));
  return (d / "feed.toml").string();
}

std::int64_t accepted_serial(const std::string& site_toml) {
  auto site = applier::load_site(site_toml);
  EXPECT_TRUE(site);
  auto f = applier::accepted_feed(*site);
  EXPECT_TRUE(f) << f.error().what();
  return f && f->accepted ? f->accepted->feed.serial : -1;
}

TEST(FeedStore, EveryFaultedAcceptLeavesTheOldFeedOrTheNew) {
  TempDir feeds;
  const auto f5 = publish(feeds, "f5", 5, {entry("1.1.0", "demo-1.1.0.tar.zst", Channel::recommended, false, false)});
  const auto f6 = publish(feeds, "f6", 6,
                          {entry("1.1.0", "demo-1.1.0.tar.zst", Channel::recommended, false, true),
                           entry("1.2.0", "demo-1.2.0.tar.zst", Channel::recommended, true, false)});
  std::uint64_t calls = 0;
  {
    SiteDir s;
    ASSERT_TRUE(applier::accept_feed(s.site, f5, quiet_env()));
    sys::ArmedFault count({});
    auto r = applier::accept_feed(s.site, f6, quiet_env());
    ASSERT_TRUE(r) << r.error().what();
    calls = count.calls();
  }
  ASSERT_GT(calls, 3u);
  for (int err : {EIO, ENOSPC}) {
    for (std::uint64_t k = 1; k <= calls; ++k) {
      SCOPED_TRACE((err == EIO ? "EIO at call " : "ENOSPC at call ") + std::to_string(k));
      SiteDir s;
      ASSERT_TRUE(applier::accept_feed(s.site, f5, quiet_env()));
      std::optional<Result<applier::FeedAcceptance>> r;
      {
        sys::ArmedFault fault({err, k});
        r = applier::accept_feed(s.site, f6, quiet_env());
      }
      const auto serial = accepted_serial(s.site);
      EXPECT_TRUE(serial == 5 || serial == 6) << serial;
      if (*r) {
        EXPECT_EQ(serial, 6);
      }
      // With the disk healthy again the same feed is accepted (or already is).
      auto again = applier::accept_feed(s.site, f6, quiet_env());
      ASSERT_TRUE(again) << again.error().what();
      EXPECT_EQ(accepted_serial(s.site), 6);
      auto site = applier::load_site(s.site);
      auto feed = applier::accepted_feed(*site);
      ASSERT_TRUE(feed);
      EXPECT_TRUE(feed->is_deprecated("1.1.0"));
      auto audit = applier::audit_verify(s.site);
      EXPECT_TRUE(audit) << audit.error().what();
    }
  }
}

TEST(FeedStore, EntryOfTheBundleFileElseTheVersionsFirst) {
  applier::SiteFeed sf;
  EXPECT_EQ(sf.entry("1.1.0"), nullptr);
  EXPECT_EQ(sf.critical("1.1.0"), std::nullopt);
  Feed f;
  f.product = "demo";
  f.serial = 1;
  f.entries = {entry("1.1.0", "a-full.tar.zst", Channel::rc, false, false),
               entry("1.1.0", "b-delta.tar.zst", Channel::rc, true, false)};
  sf.accepted = applier::AcceptedFeed{f, std::string(64, 'c')};
  ASSERT_NE(sf.entry("1.1.0", "b-delta.tar.zst"), nullptr);
  EXPECT_EQ(sf.entry("1.1.0", "b-delta.tar.zst")->file, "b-delta.tar.zst");
  EXPECT_EQ(sf.entry("1.1.0", "other.tar.zst")->file, "a-full.tar.zst");
  EXPECT_EQ(sf.critical("1.1.0"), true) << "any entry of the version raises it";
  EXPECT_EQ(sf.entry("1.2.0"), nullptr);
}

}  // namespace
}  // namespace airlock::test
