// Spec §2 (entry order), §4 (manifest schema) and the signature entries' grammar of §5's table:
// all malformed (10), checked from the tar headers before content is read where the rule allows.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/verifier/fixture.hpp"

namespace airlock::verifier::testing {
namespace {

using Head = VerifierTest;

TEST_F(Head, ManifestNotFirst) {
  auto b = good();
  std::swap(b.head[0], b.payload[0]);
  expect_refused(b, ErrorClass::malformed, "manifest.toml");
}

TEST_F(Head, EmptyArchive) {
  craft::Bundle b;
  expect_refused(b, ErrorClass::malformed, "empty");
}

TEST_F(Head, TwoManifests) {
  auto b = good();
  b.payload.insert(b.payload.begin(), craft::file_entry("manifest.toml", b.manifest));
  expect_refused(b, ErrorClass::malformed, "manifest.toml");
}

TEST_F(Head, OversizedManifestRefusedFromTheHeader) {
  auto b = good();
  b.head[0].header_size = kMaxManifestBytes + 1;  // the content is never read: no need to send it
  b.head.resize(1);
  b.payload.clear();
  b.end_marker = false;
  expect_refused(b, ErrorClass::malformed, "over the limit");
}

TEST_F(Head, ManifestOfExactlyTheLimitAccepted) {
  craft::BundleSpec s;
  const auto base = craft::manifest_text(s).size();
  s.extra_toml = "# " + std::string(kMaxManifestBytes - base - 3, 'x') + "\n";
  auto b = good(s);
  ASSERT_EQ(b.manifest.size(), kMaxManifestBytes);
  expect_accepted(b);
}

TEST_F(Head, MalformedToml) {
  craft::BundleSpec s;
  s.extra_toml = "\n[release\n";
  expect_refused(good(s), ErrorClass::malformed);
}

TEST_F(Head, UnknownManifestKey) {
  craft::BundleSpec s;
  s.extra_toml = "colour = \"blue\"\n";  // lands in the last [[files]] table
  expect_refused(good(s), ErrorClass::malformed, "colour");
}

TEST_F(Head, ByteOrderMarkRefused) {
  auto b = good();
  b.manifest = "\xEF\xBB\xBF" + b.manifest;
  b.head[0].data = b.manifest;
  b.resign({&hq});
  expect_refused(b, ErrorClass::malformed);
}

TEST_F(Head, ZeroSignatureEntries) {
  auto b = good();
  b.head.resize(1);
  expect_refused(b, ErrorClass::malformed, "no signature entries");
}

TEST_F(Head, SignatureEntriesOutOfOrder) {
  const auto second = craft::make_key("hq-backup");
  auto b = craft::good_bundle({}, {&hq, &second});
  std::swap(b.head[1], b.head[2]);
  expect_refused(b, ErrorClass::malformed, "sorted");
}

TEST_F(Head, DuplicateSignatureEntries) {
  auto b = good();
  b.head.push_back(b.head[1]);
  expect_refused(b, ErrorClass::malformed, "twice");
}

TEST_F(Head, SignatureEntryNameDiffersFromInnerKeyId) {
  const auto other = craft::make_key("other");
  auto b = good();
  b.head[1].path = craft::signature_entry_name(other.id());
  expect_refused(b, ErrorClass::malformed, other.id());
}

TEST_F(Head, SignatureEntryNameNotUpperHex) {
  auto b = good();
  auto id = hq.id();
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (id == hq.id()) id[0] = 'g';  // all digits: still make it invalid
  b.head[1].path = craft::signature_entry_name(id);
  expect_refused(b, ErrorClass::malformed, "signatures/<KEYID>.minisig");
}

TEST_F(Head, SeventeenSignatures) {
  std::vector<craft::Key> keys;
  std::vector<const craft::Key*> signers;
  for (int i = 0; i < 17; ++i) keys.push_back(craft::make_key("k" + std::to_string(i)));
  for (const auto& k : keys) signers.push_back(&k);
  std::vector<TrustKey> tk;
  for (const auto& k : keys) tk.push_back(craft::trust_key(k));
  trust = craft::trust_root(tk, 1);
  expect_refused(craft::good_bundle({}, signers), ErrorClass::malformed, "more than 16");
}

TEST_F(Head, SixteenSignaturesAccepted) {
  std::vector<craft::Key> keys;
  std::vector<const craft::Key*> signers;
  for (int i = 0; i < 16; ++i) keys.push_back(craft::make_key("k" + std::to_string(i)));
  for (const auto& k : keys) signers.push_back(&k);
  std::vector<TrustKey> tk;
  for (const auto& k : keys) tk.push_back(craft::trust_key(k));
  trust = craft::trust_root(tk, 16);
  expect_accepted(craft::good_bundle({}, signers));
}

TEST_F(Head, SignatureEntryOver4KiBRefusedFromTheHeader) {
  auto b = good();
  b.head[1].data.append(5000, '\n');
  expect_refused(b, ErrorClass::malformed, "over the limit");
}

TEST_F(Head, SignatureEntryAfterThePayloadStarted) {
  const auto second = craft::make_key("hq-backup");
  auto b = good();
  b.payload.insert(b.payload.begin() + 1, craft::signature_entry(second, b.manifest));
  expect_refused(b, ErrorClass::malformed, "reserved");
}

}  // namespace
}  // namespace airlock::verifier::testing
