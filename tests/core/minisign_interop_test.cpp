// Interop with the stock `minisign` 0.11 binary: keys and signatures made by either side are
// accepted by the other, byte for byte where the format allows. The two encrypted-key tests cost
// ~1 GiB of memory and a few seconds each (scrypt at minisign's default cost), by design.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/crypto/base64.hpp"
#include "core/crypto/minisign.hpp"
#include "core/crypto/minisign_internal.hpp"
#include "tests/support/tmpdir.hpp"

namespace airlock::minisign {
namespace {

using test::run;
using test::slurp;
using test::spit;
using test::TempDir;

constexpr const char* kMinisign = "/usr/bin/minisign";

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

PasswordProvider no_password_expected() {
  return []() -> Result<std::string> {
    ADD_FAILURE() << "password asked for an unencrypted key";
    return fail(ErrorClass::usage, "unexpected");
  };
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kMinisign)) << "interop tests need stock minisign at " << kMinisign;
    spit(dir / "msg", "the message\nwith two lines\n");
  }
  // `minisign -G -W`: an unencrypted stock key pair X.pub / X.key.
  void stock_keygen_unencrypted(const std::string& x) {
    auto r = run(std::string(kMinisign) + " -G -W -p " + q(dir / (x + ".pub")) + " -s " + q(dir / (x + ".key")));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  test::ProcResult stock_verify(const std::string& pub, const std::string& msg, const std::string& sig) {
    return run(std::string(kMinisign) + " -V -H -p " + q(dir / pub) + " -m " + q(dir / msg) + " -x " + q(dir / sig));
  }
  TempDir dir;
};

TEST_F(Interop, StockPublicKeyFileIsByteIdenticalToOurs) {
  stock_keygen_unencrypted("a");
  std::string text = slurp(dir / "a.pub");
  auto pk = parse_public_key_file(text);
  ASSERT_TRUE(pk) << pk.error().what();
  EXPECT_EQ(format_public_key_file(*pk), text);
}

TEST_F(Interop, StockUnencryptedSecretKeyIsByteIdenticalToOurs) {
  stock_keygen_unencrypted("a");
  std::string text = slurp(dir / "a.key");
  auto sk = parse_secret_key_file(text, no_password_expected());
  ASSERT_TRUE(sk) << sk.error().what();
  auto ours = format_secret_key_file(*sk, std::nullopt);
  ASSERT_TRUE(ours);
  EXPECT_EQ(*ours, text);
  auto pk = parse_public_key_file(slurp(dir / "a.pub"));
  ASSERT_TRUE(pk);
  EXPECT_EQ(sk->public_key().pk, pk->pk);
  EXPECT_EQ(sk->public_key().key_id, pk->key_id);
}

TEST_F(Interop, StockVerifiesOurSignatureWithStockKey) {
  stock_keygen_unencrypted("a");
  auto sk = parse_secret_key_file(slurp(dir / "a.key"), no_password_expected());
  ASSERT_TRUE(sk) << sk.error().what();
  auto sig = sign(*sk, slurp(dir / "msg"), "airlock demo 1.2.3 manifest-sha256:abc");
  spit(dir / "msg.minisig", format_signature(sig));
  auto r = stock_verify("a.pub", "msg", "msg.minisig");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Trusted comment: airlock demo 1.2.3 manifest-sha256:abc"), std::string::npos) << r.output;
  // And stock minisign notices a changed message, so the check above means something.
  spit(dir / "other", "the message\nwith two lines!\n");
  EXPECT_NE(stock_verify("a.pub", "other", "msg.minisig").status, 0);
}

TEST_F(Interop, WeVerifyStockSignature) {
  stock_keygen_unencrypted("a");
  auto r = run(std::string(kMinisign) + " -S -s " + q(dir / "a.key") + " -m " + q(dir / "msg") + " -t 'trusted text'");
  ASSERT_EQ(r.status, 0) << r.output;
  std::string text = slurp(dir / "msg.minisig");
  auto sig = parse_signature(text);
  ASSERT_TRUE(sig) << sig.error().what();
  EXPECT_EQ(sig->algorithm[0], 'E');
  EXPECT_EQ(sig->algorithm[1], 'D');  // 0.11 signs prehashed by default
  EXPECT_EQ(sig->trusted_comment, "trusted text");
  EXPECT_EQ(sig->untrusted_comment, "signature from minisign secret key");
  EXPECT_EQ(format_signature(*sig), text);
  auto pk = parse_public_key_file(slurp(dir / "a.pub"));
  ASSERT_TRUE(pk);
  EXPECT_TRUE(verify(*pk, *sig, slurp(dir / "msg")));
  EXPECT_FALSE(verify(*pk, *sig, "the message\n"));
}

TEST_F(Interop, StockSignsWithOurUnencryptedKey) {
  auto sk = generate_key();
  auto sk_text = format_secret_key_file(sk, std::nullopt);
  ASSERT_TRUE(sk_text);
  spit(dir / "ours.key", *sk_text);
  spit(dir / "ours.pub", format_public_key_file(sk.public_key()));
  // -p makes stock minisign check the signature against our public key before writing it.
  auto r = run(std::string(kMinisign) + " -S -s " + q(dir / "ours.key") + " -p " + q(dir / "ours.pub") + " -m " +
               q(dir / "msg") + " -t t");
  ASSERT_EQ(r.status, 0) << r.output;
  auto v = stock_verify("ours.pub", "msg", "msg.minisig");
  EXPECT_EQ(v.status, 0) << v.output;
  auto sig = parse_signature(slurp(dir / "msg.minisig"));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify(sk.public_key(), *sig, slurp(dir / "msg")));
}

// ~1 GiB scrypt on each side.
TEST_F(Interop, WeDecryptStockEncryptedKey) {
  auto r = run("printf 'stock pw\\nstock pw\\n' | " + std::string(kMinisign) + " -G -p " + q(dir / "e.pub") + " -s " +
               q(dir / "e.key"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto sk = parse_secret_key_file(slurp(dir / "e.key"), [] { return Result<std::string>("stock pw"); });
  ASSERT_TRUE(sk) << sk.error().what();
  auto pk = parse_public_key_file(slurp(dir / "e.pub"));
  ASSERT_TRUE(pk);
  EXPECT_EQ(sk->public_key().pk, pk->pk);
  EXPECT_EQ(sk->key_id, pk->key_id);
}

// ~1 GiB scrypt in stock minisign.
TEST_F(Interop, StockDecryptsOurEncryptedKey) {
  auto sk = generate_key();
  auto text = format_secret_key_file(sk, std::string("our pw"));
  ASSERT_TRUE(text) << text.error().what();
  // Written with minisign's default cost, read from the file by both sides.
  auto raw = base64_decode_strict(std::string_view(*text).substr(text->find('\n') + 1, 212));
  ASSERT_TRUE(raw);
  EXPECT_EQ(le64_load(raw->data() + 38), kDefaultKdf.opslimit);
  EXPECT_EQ(le64_load(raw->data() + 46), kDefaultKdf.memlimit);
  spit(dir / "ours.key", *text);
  spit(dir / "ours.pub", format_public_key_file(sk.public_key()));
  auto r = run("printf 'our pw\\n' | " + std::string(kMinisign) + " -S -s " + q(dir / "ours.key") + " -m " +
               q(dir / "msg") + " -t t");
  ASSERT_EQ(r.status, 0) << r.output;
  auto v = stock_verify("ours.pub", "msg", "msg.minisig");
  EXPECT_EQ(v.status, 0) << v.output;
}

TEST(DemoKeys, PairsMatchAndTrustRootNamesDemoHq) {
  std::filesystem::path keys = std::filesystem::path(AIRLOCK_SOURCE_DIR) / "keys";
  for (std::string name : {"demo-hq", "demo-hq2"}) {
    auto sk = parse_secret_key_file(slurp(keys / (name + ".key")), no_password_expected());
    ASSERT_TRUE(sk) << name << ": " << sk.error().what();
    auto pk = parse_public_key_file(slurp(keys / (name + ".pub")));
    ASSERT_TRUE(pk) << name << ": " << pk.error().what();
    EXPECT_EQ(sk->public_key().pk, pk->pk) << name;
    EXPECT_EQ(sk->key_id, pk->key_id) << name;
  }
  auto hq = parse_public_key_file(slurp(keys / "demo-hq.pub"));
  ASSERT_TRUE(hq);
  std::string trust = slurp(keys / "trust.toml");
  EXPECT_NE(trust.find("public_key = \"" + public_key_base64(*hq) + "\""), std::string::npos) << trust;
}

}  // namespace
}  // namespace airlock::minisign
