// Unit tests of core/minisign: key files, strict signature parsing (every fault of spec §5's
// table), signing and verification. Interop with the stock binary is in minisign_interop_test.
#include "core/crypto/minisign.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/crypto/base64.hpp"
#include "core/crypto/minisign_internal.hpp"

namespace airlock::minisign {
namespace {

// A real `minisign -G -W` public key and the id stock minisign printed for it.
constexpr const char* kStockPub = "RWSZkQUarMsPcTA/TJ7stahE69Ksp3EwgZmC3wtFT1jwxpYYKfoN8BOU";
constexpr const char* kStockPubId = "710FCBAC1A059199";

PasswordProvider no_password_expected() {
  return []() -> Result<std::string> {
    ADD_FAILURE() << "password asked for an unencrypted key";
    return fail(ErrorClass::usage, "unexpected");
  };
}
PasswordProvider password_is(std::string pw) {
  return [pw]() -> Result<std::string> { return pw; };
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto nl = s.find('\n', start);
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}
std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}
std::string b64(std::size_t n, std::uint8_t fill) {
  std::vector<std::uint8_t> v(n, fill);
  return base64_encode(v);
}

class Signed : public ::testing::Test {
 protected:
  SecretKey sk = generate_key();
  std::string message = "format = \"airlock-bundle/1\"\n";
  Signature sig = sign(sk, message, "airlock demo 1.0.0 manifest-sha256:00");
  std::string file = format_signature(sig);

  void expect_refused(const std::string& contents, const std::string& needle) {
    auto r = parse_signature(contents);
    ASSERT_FALSE(r) << "accepted:\n" << contents;
    EXPECT_EQ(r.error().cls(), ErrorClass::not_authentic) << r.error().what();
    EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
  }
  std::string with_line(std::size_t i, const std::string& text) {
    auto l = lines_of(file);
    l.at(i) = text;
    return join(l);
  }
};

TEST(Base64, EncodesLikeRfc4648) {
  auto enc = [](std::string s) {
    return base64_encode(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodeIsStrict) {
  ASSERT_TRUE(base64_decode_strict("Zm8="));
  EXPECT_EQ(base64_decode_strict("Zm8=")->size(), 2u);
  EXPECT_FALSE(base64_decode_strict("Zm8"));     // missing padding
  EXPECT_FALSE(base64_decode_strict("Zm8=="));   // extra padding
  EXPECT_FALSE(base64_decode_strict("Zm9="));    // non-zero unused bits
  EXPECT_FALSE(base64_decode_strict("Zg=a"));    // padding in the middle
  EXPECT_FALSE(base64_decode_strict("Zm 8="));   // whitespace
  EXPECT_FALSE(base64_decode_strict("Zm8=\n"));  // trailing newline
  EXPECT_FALSE(base64_decode_strict("Zm-_"));    // URL alphabet
  EXPECT_FALSE(base64_decode_strict("===="));
}

TEST(KeyId, RendersLittleEndianU64AsUpperHex) {
  auto pk = parse_public_key_base64(kStockPub);
  ASSERT_TRUE(pk) << pk.error().what();
  EXPECT_EQ(key_id_hex(pk->key_id), kStockPubId);
  KeyId small{0x01, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(key_id_hex(small), "0000000000000001");
}

TEST(PublicKey, FileAndBase64RoundTrip) {
  auto pk = parse_public_key_base64(kStockPub);
  ASSERT_TRUE(pk);
  EXPECT_EQ(public_key_base64(*pk), kStockPub);
  std::string file = format_public_key_file(*pk);
  EXPECT_EQ(file, std::string("untrusted comment: minisign public key ") + kStockPubId + "\n" + kStockPub + "\n");
  auto again = parse_public_key_file(file);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->pk, pk->pk);
  EXPECT_EQ(again->key_id, pk->key_id);
}

// Stock minisign writes the id in the .pub comment without zero padding ("%" PRIX64); a key
// whose id starts with a zero nibble must come out exactly like that (found by CI: 1 key in 16).
TEST(PublicKey, FileCommentIdIsUnpaddedLikeStockMinisign) {
  PublicKey pk;
  pk.key_id = {0x77, 0x17, 0x8C, 0x7C, 0x31, 0x99, 0xF7, 0x02};  // LE u64 0x02F799317C8C1777
  EXPECT_EQ(key_id_hex(pk.key_id), "02F799317C8C1777");
  std::string file = format_public_key_file(pk);
  EXPECT_EQ(file.substr(0, file.find('\n')), "untrusted comment: minisign public key 2F799317C8C1777");
  auto back = parse_public_key_file(file);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->key_id, pk.key_id);
}

TEST(PublicKey, RejectsBadInputAsUsageError) {
  for (std::string bad : {std::string(""), std::string("RWQ"), std::string(kStockPub) + "=", std::string(kStockPub) + " ",
                          b64(42, 0) /* algorithm 00 00 */, b64(41, 'E')}) {
    auto r = parse_public_key_base64(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().cls(), ErrorClass::usage);
  }
  EXPECT_FALSE(parse_public_key_file(std::string(kStockPub) + "\n"));  // no comment line
  EXPECT_FALSE(parse_public_key_file("untrusted comment: x\n"));       // no key line
  EXPECT_FALSE(parse_public_key_file(std::string("untrusted comment: x\n") + kStockPub + "\nextra\n"));
  // Hand-edited key files with CRLF or no final newline are accepted.
  EXPECT_TRUE(parse_public_key_file(std::string("untrusted comment: x\r\n") + kStockPub + "\r\n"));
  EXPECT_TRUE(parse_public_key_file(std::string("untrusted comment: x\n") + kStockPub));
}

TEST(SecretKey, UnencryptedRoundTripHasMinisignWLayout) {
  auto sk = generate_key();
  auto text = format_secret_key_file(sk, std::nullopt);
  ASSERT_TRUE(text) << text.error().what();
  auto l = lines_of(*text);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], "untrusted comment: minisign encrypted secret key");  // minisign's text, even for -W
  auto raw = base64_decode_strict(l[1]);
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 158u);
  EXPECT_EQ(std::string(raw->begin(), raw->begin() + 6), std::string("Ed\0\0B2", 6));
  for (std::size_t i = 6; i < 54; ++i) EXPECT_EQ((*raw)[i], 0) << "salt/limits byte " << i;
  for (std::size_t i = 126; i < 158; ++i) EXPECT_EQ((*raw)[i], 0) << "checksum byte " << i;
  auto back = parse_secret_key_file(*text, no_password_expected());
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->key_id, sk.key_id);
  EXPECT_EQ(back->sk, sk.sk);
}

TEST(SecretKey, EncryptedRoundTripAndWrongPassword) {
  auto sk = generate_key();
  auto text = format_secret_key_file_with_kdf(sk, "correct horse", kTestKdf);
  ASSERT_TRUE(text) << text.error().what();
  auto raw = base64_decode_strict(lines_of(*text).at(1));
  ASSERT_TRUE(raw);
  EXPECT_EQ(std::string(raw->begin(), raw->begin() + 6), "EdScB2");
  // The key id is encrypted too, so it does not appear in the clear.
  EXPECT_NE(std::vector<std::uint8_t>(raw->begin() + 54, raw->begin() + 62),
            std::vector<std::uint8_t>(sk.key_id.begin(), sk.key_id.end()));

  auto back = parse_secret_key_file(*text, password_is("correct horse"));
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->sk, sk.sk);
  EXPECT_EQ(back->key_id, sk.key_id);

  auto wrong = parse_secret_key_file(*text, password_is("correct horsE"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().cls(), ErrorClass::usage);
  EXPECT_NE(wrong.error().what().find("wrong password"), std::string::npos) << wrong.error().what();
}

TEST(SecretKey, EncryptedKeyWithoutPasswordSourceFails) {
  auto text = format_secret_key_file_with_kdf(generate_key(), "pw", kTestKdf);
  ASSERT_TRUE(text);
  auto none = parse_secret_key_file(*text, PasswordProvider{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().cls(), ErrorClass::usage);
  // The provider's own error (e.g. "no terminal") reaches the caller.
  auto refused = parse_secret_key_file(*text, [] { return Result<std::string>(fail(ErrorClass::usage, "no tty here")); });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what().find("no tty here"), std::string::npos);
}

TEST(SecretKey, RefusesOverlongPasswordThatMinisignWouldTruncate) {
  auto r = format_secret_key_file_with_kdf(generate_key(), std::string(1024, 'p'), kTestKdf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
}

TEST(SecretKey, CorruptedUnencryptedKeyIsRefused) {
  auto sk = generate_key();
  sk.sk[40] ^= 1;  // public half no longer matches the seed
  auto text = format_secret_key_file(sk, std::nullopt);
  ASSERT_TRUE(text);
  auto r = parse_secret_key_file(*text, no_password_expected());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().cls(), ErrorClass::usage);
}

TEST(SecretKey, RefusesUnknownAlgorithmsAndAbsurdKdfCost) {
  auto text = format_secret_key_file(generate_key(), std::nullopt);
  ASSERT_TRUE(text);
  auto raw = *base64_decode_strict(lines_of(*text).at(1));
  auto with = [&](std::vector<std::uint8_t> r) { return "untrusted comment: x\n" + base64_encode(r) + "\n"; };
  auto bad_kdf = raw;
  bad_kdf[2] = 'X';
  EXPECT_FALSE(parse_secret_key_file(with(bad_kdf), no_password_expected()));
  auto bad_chk = raw;
  bad_chk[4] = 'X';
  EXPECT_FALSE(parse_secret_key_file(with(bad_chk), no_password_expected()));
  auto costly = raw;
  costly[2] = 'S';
  costly[3] = 'c';
  le64_store(costly.data() + 46, 1ULL << 40);  // 1 TiB memlimit
  auto r = parse_secret_key_file(with(costly), password_is("pw"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("memlimit"), std::string::npos) << r.error().what();
  raw.pop_back();
  EXPECT_FALSE(parse_secret_key_file(with(raw), no_password_expected()));
}

TEST_F(Signed, FormatParseVerifyRoundTrip) {
  auto parsed = parse_signature(file);
  ASSERT_TRUE(parsed) << parsed.error().what();
  EXPECT_EQ(format_signature(*parsed), file);
  EXPECT_EQ(parsed->trusted_comment, "airlock demo 1.0.0 manifest-sha256:00");
  EXPECT_EQ(parsed->untrusted_comment, "signature from airlock secret key");
  EXPECT_EQ(parsed->key_id, sk.key_id);
  EXPECT_TRUE(verify(sk.public_key(), *parsed, message));
  // The last newline is optional.
  EXPECT_TRUE(parse_signature(file.substr(0, file.size() - 1)));
}

TEST_F(Signed, VerifyFailsOnOtherMessage) {
  EXPECT_FALSE(verify(sk.public_key(), sig, message + " "));
  EXPECT_FALSE(verify(sk.public_key(), sig, ""));
}

TEST_F(Signed, VerifyFailsOnTamperedTrustedComment) {
  auto t = sig;
  t.trusted_comment = "airlock demo 9.9.9 manifest-sha256:00";
  EXPECT_FALSE(verify(sk.public_key(), t, message));
  auto parsed = parse_signature(with_line(2, "trusted comment: airlock demo 9.9.9 manifest-sha256:00"));
  ASSERT_TRUE(parsed);  // well-formed, so it parses ...
  EXPECT_FALSE(verify(sk.public_key(), *parsed, message));  // ... and counts for nothing
}

TEST_F(Signed, VerifyFailsOnTamperedSignatureBytes) {
  auto t = sig;
  t.signature[5] ^= 0x20;
  EXPECT_FALSE(verify(sk.public_key(), t, message));
  t = sig;
  t.global_signature[5] ^= 0x20;
  EXPECT_FALSE(verify(sk.public_key(), t, message));
}

TEST_F(Signed, VerifyFailsForWrongKeyIdOrOtherKey) {
  auto pk = sk.public_key();
  pk.key_id[0] ^= 1;  // right Ed25519 key, wrong id
  EXPECT_FALSE(verify(pk, sig, message));
  auto other = generate_key().public_key();
  other.key_id = sk.key_id;  // right id, wrong key
  EXPECT_FALSE(verify(other, sig, message));
}

TEST_F(Signed, SignKeepsCommentsOnOneLine) {
  auto s = sign(sk, message, "a\nb", "c\r\nd");
  auto parsed = parse_signature(format_signature(s));
  ASSERT_TRUE(parsed) << parsed.error().what();
  EXPECT_TRUE(verify(sk.public_key(), *parsed, message));
}

TEST_F(Signed, RefusesWrongLineCounts) {
  auto l = lines_of(file);
  expect_refused(l[0] + "\n" + l[1] + "\n" + l[2] + "\n", "3 lines");
  expect_refused(file + "extra\n", "more than four lines");
  expect_refused(file + "\n", "more than four lines");  // a blank fifth line
  expect_refused("", "1 lines");
}

TEST_F(Signed, RefusesCrlf) {
  auto l = lines_of(file);
  std::string crlf;
  for (const auto& x : l) crlf += x + "\r\n";
  expect_refused(crlf, "carriage return");
}

TEST_F(Signed, RefusesBadBase64) {
  auto l = lines_of(file);
  expect_refused(with_line(1, l[1].substr(0, 20) + "!" + l[1].substr(21)), "not valid base64");
  expect_refused(with_line(1, " " + l[1]), "not valid base64");
  expect_refused(with_line(3, l[3] + " "), "not valid base64");
  expect_refused(with_line(3, l[3].substr(0, l[3].size() - 2)), "not valid base64");  // padding dropped
}

TEST_F(Signed, RefusesWrongDecodedLengths) {
  expect_refused(with_line(3, b64(63, 1)), "63 bytes, expected 64");
  expect_refused(with_line(3, b64(65, 1)), "65 bytes, expected 64");
  std::vector<std::uint8_t> raw(73, 1);
  raw[0] = 'E';
  raw[1] = 'D';
  expect_refused(with_line(1, base64_encode(raw)), "73 bytes, expected 74");
  raw.resize(75, 1);
  expect_refused(with_line(1, base64_encode(raw)), "75 bytes, expected 74");
}

TEST_F(Signed, RefusesLegacyAndUnknownAlgorithms) {
  auto legacy = sig;
  legacy.algorithm = {'E', 'd'};
  expect_refused(format_signature(legacy), "legacy");
  auto other = sig;
  other.algorithm = {'X', 'Y'};
  expect_refused(format_signature(other), "unsupported signature algorithm");
  EXPECT_FALSE(verify(sk.public_key(), legacy, message));  // verify refuses it too
}

TEST_F(Signed, CommentLimitIs1024Bytes) {
  std::string at_limit(kMaxCommentBytes, 'c');
  EXPECT_TRUE(parse_signature(with_line(0, "untrusted comment: " + at_limit)));
  EXPECT_TRUE(parse_signature(with_line(2, "trusted comment: " + at_limit)));
  expect_refused(with_line(0, "untrusted comment: " + at_limit + "c"), "1025 bytes");
  expect_refused(with_line(2, "trusted comment: " + at_limit + "c"), "1025 bytes");
}

TEST_F(Signed, RefusesMissingPrefixesAndNul) {
  expect_refused(with_line(0, "untrusted comment:x"), "untrusted comment");
  expect_refused(with_line(0, "Untrusted comment: x"), "untrusted comment");
  expect_refused(with_line(2, "trusted  comment: x"), "trusted comment");
  expect_refused(with_line(2, std::string("trusted comment: a\0b", 20)), "NUL");
}

TEST_F(Signed, RefusesOversizedFile) {
  std::string big(kMaxSignatureFileBytes + 1, 'x');
  expect_refused(big, "over the limit");
}

}  // namespace
}  // namespace airlock::minisign
