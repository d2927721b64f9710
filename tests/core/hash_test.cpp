#include "core/crypto/hash.hpp"

#include <gtest/gtest.h>

#include <string>

namespace airlock {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, StreamingEqualsOneShotAndFinishResets) {
  std::string data(100000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (std::size_t off = 0; off < data.size(); off += 777) h.update(std::string_view(data).substr(off, 777));
  EXPECT_EQ(h.finish(), sha256(data));
  // After finish the object starts over.
  h.update("abc");
  EXPECT_EQ(to_hex(h.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, MovedHasherKeepsItsState) {
  Sha256 a;
  a.update("ab");
  Sha256 b(std::move(a));
  b.update("c");
  EXPECT_EQ(b.finish(), sha256("abc"));
  Sha256 c;
  c = std::move(b);
  c.update("abc");
  EXPECT_EQ(c.finish(), sha256("abc"));
}

TEST(Blake2b512, KnownVectorsAndStreaming) {
  Blake2b512 h;
  EXPECT_EQ(to_hex(h.finish()),
            "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
            "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
  h.update("a");
  h.update("bc");
  EXPECT_EQ(to_hex(h.finish()),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

TEST(Hex, ToHexIsLowerCase) {
  std::uint8_t b[] = {0x00, 0xAB, 0x0F, 0xF0};
  EXPECT_EQ(to_hex(b), "00ab0ff0");
}

TEST(Hex, Sha256FromHexRoundTripsAndIsStrict) {
  auto d = sha256("abc");
  auto hex = to_hex(d);
  ASSERT_TRUE(sha256_from_hex(hex));
  EXPECT_EQ(*sha256_from_hex(hex), d);
  std::string upper = hex;
  upper[0] = 'B';
  EXPECT_FALSE(sha256_from_hex(upper));                // upper-case refused
  EXPECT_FALSE(sha256_from_hex(hex.substr(1)));        // too short
  EXPECT_FALSE(sha256_from_hex(hex + "0"));            // too long
  EXPECT_FALSE(sha256_from_hex(" " + hex.substr(1)));  // not hex
  EXPECT_FALSE(sha256_from_hex(""));
}

TEST(Hex, IsLowerHex) {
  EXPECT_TRUE(is_lower_hex("0123456789abcdef", 16));
  EXPECT_FALSE(is_lower_hex("0123456789abcdef", 15));
  EXPECT_FALSE(is_lower_hex("0123456789abcdeF", 16));
  EXPECT_FALSE(is_lower_hex("0123456789abcdeg", 16));
  EXPECT_TRUE(is_lower_hex("", 0));
}

}  // namespace
}  // namespace airlock
