#include "tests/support/craft.hpp"

#include <sodium.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "core/crypto/hash.hpp"

namespace airlock::test::craft {

namespace {

// `value` in octal, zero-padded to width-1 digits and a NUL (the usual ustar spelling).
void put_octal(std::string& block, std::size_t off, std::size_t width, std::uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
  block.replace(off, width - 1, buf, width - 1);
  block[off + width - 1] = '\0';
}

void put_text(std::string& block, std::size_t off, std::size_t width, std::string_view text) {
  block.replace(off, std::min(width, text.size()), text.substr(0, width));
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct CCtx {
  ZSTD_CCtx* p = ZSTD_createCCtx();
  ~CCtx() { ZSTD_freeCCtx(p); }
};

void zcheck(std::size_t r) {
  if (ZSTD_isError(r)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(r));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
std::string ustar_header(const Header& h) {
  std::string b(512, '\0');
  put_text(b, 0, 100, h.name);
  put_octal(b, 100, 8, h.mode);
  put_octal(b, 108, 8, 0);
  put_octal(b, 116, 8, 0);
  if (h.size_field)
    put_text(b, 124, 12, *h.size_field);
  else
    put_octal(b, 124, 12, h.size);
  put_octal(b, 136, 12, static_cast<std::uint64_t>(h.mtime));
  b[156] = h.typeflag;
  put_text(b, 157, 100, h.linkname);
  put_text(b, 257, 6, h.magic);
  put_text(b, 263, 2, h.version);
  put_text(b, 265, 32, h.uname);
  put_text(b, 297, 32, h.gname);
  put_text(b, 345, 155, h.prefix);
  // The checksum is the sum of the block's bytes with the checksum field read as spaces.
  b.replace(148, 8, 8, ' ');
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06o", h.checksum ? *h.checksum : sum);
  b.replace(148, 6, buf, 6);
  b[154] = '\0';
  b[155] = ' ';
  return b;
}

std::string pax_record(std::string_view key, std::string_view value) {
  // The length counts itself: grow it until it is stable.
  const std::size_t body = 1 + key.size() + 1 + value.size() + 1;  // ' ' key '=' value '\n'
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

std::string pad_to_block(std::string data) {
  data.resize((data.size() + 511) / 512 * 512, '\0');
  return data;
}

std::string end_marker() { return std::string(1024, '\0'); }

Entry file_entry(std::string path, std::string data, unsigned mode) {
  Entry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.mode = mode;
  return e;
}

std::string tar_entry(const Entry& e) {
  auto pax = e.pax;
  std::string name = e.path;
  if (e.path.size() > 100 && !e.raw_pax) {
    if (std::none_of(pax.begin(), pax.end(), [](const auto& kv) { return kv.first == "path"; }))
      pax.insert(pax.begin(), {"path", e.path});
    name = e.path.substr(0, 100);
  }
  std::string pax_data;
  if (e.raw_pax)
    pax_data = *e.raw_pax;
  else
    for (const auto& [k, v] : pax) pax_data += pax_record(k, v);

  std::string out;
  if (e.raw_pax || !pax.empty()) {
    Header ph;
    ph.name = "PaxHeader/" + name.substr(0, 80);
    ph.typeflag = 'x';
    ph.size = pax_data.size();
    out += ustar_header(ph) + pad_to_block(pax_data);
  }
  Header h;
  h.name = name;
  h.mode = e.mode;
  h.size = e.header_size.value_or(e.data.size());
  h.typeflag = e.typeflag;
  h.linkname = e.linkname;
  h.checksum = e.checksum;
  out += ustar_header(h) + e.data;
  const std::size_t pad = (512 - e.data.size() % 512) % 512;
  for (std::size_t i = 0; i < pad; ++i) out += e.padding_byte;
  return out;
}

// ---------------------------------------------------------------------------------------------
std::string zstd_frame(std::string_view data, int level) {
  ZstdParams p;
  p.level = level;
  return zstd_frame(data, p);
}

std::string zstd_frame(std::string_view data, const ZstdParams& p) {
  CCtx c;
  zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_compressionLevel, p.level));
  zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_checksumFlag, p.checksum ? 1 : 0));
  zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_contentSizeFlag, p.content_size ? 1 : 0));
  if (p.window_log) zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_windowLog, *p.window_log));
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const auto n = ZSTD_compress2(c.p, out.data(), out.size(), data.data(), data.size());
  zcheck(n);
  out.resize(n);
  return out;
}

std::string zstd_raw_frame(std::string_view data, unsigned window_log) {
  std::string out;
  put_le(out, 0xFD2FB528u, 4);
  out.push_back('\0');                                       // descriptor: nothing optional
  out.push_back(static_cast<char>((window_log - 10) << 3));  // window: exponent, mantissa 0
  constexpr std::size_t kMaxBlock = 128 * 1024;
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(kMaxBlock, data.size() - off);
    const bool last = off + n == data.size();
    put_le(out, (n << 3) | (last ? 1u : 0u), 3);  // raw block
    out.append(data.substr(off, n));
    off += n;
  } while (off < data.size());
  return out;
}

std::string skippable_frame(std::string_view payload, unsigned magic_variant) {
  std::string out;
  put_le(out, 0x184D2A50u + (magic_variant & 0xf), 4);
  put_le(out, payload.size(), 4);
  out.append(payload);
  return out;
}

std::string zstd_repeat_frame(std::string_view prefix, std::uint64_t count, char byte) {
  CCtx c;
  zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_compressionLevel, 1));
  zcheck(ZSTD_CCtx_setParameter(c.p, ZSTD_c_windowLog, 20));
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  auto feed = [&](std::string_view in, ZSTD_EndDirective mode) {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
      const auto left = ZSTD_compressStream2(c.p, &ob, &ib, mode);
      zcheck(left);
      out.append(buf.data(), ob.pos);
      if (mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size) break;
    }
  };
  feed(prefix, ZSTD_e_continue);
  const std::string chunk(1 << 20, byte);
  for (std::uint64_t left = count; left > 0;) {
    const auto n = std::min<std::uint64_t>(left, chunk.size());
    feed(std::string_view(chunk).substr(0, n), ZSTD_e_continue);
    left -= n;
  }
  feed({}, ZSTD_e_end);
  return out;
}

// ---------------------------------------------------------------------------------------------
Key make_key(std::string name) { return Key{std::move(name), minisign::generate_key()}; }

Timestamp ts(std::string_view rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) {
    std::fprintf(stderr, "craft::ts: bad timestamp '%.*s'\n", static_cast<int>(rfc3339.size()), rfc3339.data());
    std::abort();
  }
  return *t;
}

TrustKey trust_key(const Key& k, std::optional<std::string> not_before, std::optional<std::string> not_after,
                   bool revoked) {
  TrustKey t;
  t.name = k.name;
  t.key = k.pub();
  if (not_before) t.not_before = ts(*not_before);
  if (not_after) t.not_after = ts(*not_after);
  t.revoked = revoked;
  return t;
}

TrustRoot trust_root(std::vector<TrustKey> keys, int threshold) {
  TrustRoot r;
  r.threshold = threshold;
  r.keys = std::move(keys);
  return r;
}

std::string trust_toml(const TrustRoot& t) {
  std::string out = "format = \"airlock-trust/1\"\nthreshold = " + std::to_string(t.threshold) + "\n";
  if (t.serial != 0) out += "serial = " + std::to_string(t.serial) + "\n";
  for (const auto& k : t.keys) {
    out += "\n[[keys]]\nname = \"" + k.name + "\"\npublic_key = \"" + minisign::public_key_base64(k.key) + "\"\n";
    if (k.not_before) out += "not_before = " + format_rfc3339(*k.not_before) + "\n";
    if (k.not_after) out += "not_after = " + format_rfc3339(*k.not_after) + "\n";
    if (k.revoked) out += "revoked = true\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
std::string signature_entry_name(const std::string& key_id_hex) { return "signatures/" + key_id_hex + ".minisig"; }

std::string signature_text(const Key& k, std::string_view manifest) {
  const auto comment = "airlock test manifest-sha256:" + sha256_hex(manifest);
  return minisign::format_signature(minisign::sign(k.sk, manifest, comment));
}

Entry signature_entry(const Key& k, std::string_view manifest) {
  return file_entry(signature_entry_name(k.id()), signature_text(k, manifest));
}

std::string legacy_signature_text(const Key& k, std::string_view manifest) {
  auto sig = minisign::sign(k.sk, manifest, "legacy");
  sig.algorithm = {'E', 'd'};
  // Legacy: Ed25519 over the message itself; the global signature over signature ‖ comment.
  crypto_sign_detached(sig.signature.data(), nullptr, reinterpret_cast<const unsigned char*>(manifest.data()),
                       manifest.size(), k.sk.sk.data());
  std::string global(sig.signature.begin(), sig.signature.end());
  global += sig.trusted_comment;
  crypto_sign_detached(sig.global_signature.data(), nullptr, reinterpret_cast<const unsigned char*>(global.data()),
                       global.size(), k.sk.sk.data());
  return minisign::format_signature(sig);
}

// ---------------------------------------------------------------------------------------------
std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

std::string manifest_text(const BundleSpec& s) {
  std::string m = "format = \"airlock-bundle/1\"\n\n[release]\n";
  m += "product = \"" + s.product + "\"\n";
  m += "version = \"" + s.version + "\"\n";
  m += "created = " + s.created + "\n";
  m += "channel = \"" + s.channel + "\"\n";
  if (s.min_installed) m += "min_installed = \"" + *s.min_installed + "\"\n";
  if (s.expires) m += "expires = " + *s.expires + "\n";
  if (s.trust_update) m += "\n[trust_update]\npath = \"" + *s.trust_update + "\"\n";
  if (!s.notes_path.empty()) m += "\n[[notes]]\nlang = \"en\"\npath = \"" + s.notes_path + "\"\n";
  for (const auto& f : s.files) {
    m += "\n[[files]]\npath = \"" + f.path + "\"\nsize = " + std::to_string(f.content.size()) + "\nsha256 = \"" +
         sha256_hex(f.content) + "\"\n";
    if (f.executable) m += "executable = true\n";
  }
  m += s.extra_toml;
  return m;
}

std::string Bundle::tar() const {
  std::string out;
  for (const auto& e : head) out += tar_entry(e);
  for (const auto& e : payload) out += tar_entry(e);
  if (end_marker) out += craft::end_marker();
  return out + after_end;
}

std::string Bundle::bytes() const {
  std::string out;
  std::string sigs, rest;
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (i == 0)
      out += zstd_frame(tar_entry(head[0]));
    else
      sigs += tar_entry(head[i]);
  }
  if (!sigs.empty()) out += zstd_frame(sigs);
  for (const auto& e : payload) rest += tar_entry(e);
  if (end_marker) rest += craft::end_marker();
  rest += after_end;
  if (!rest.empty()) out += zstd_frame(rest);
  return out + after_stream;
}

void Bundle::write(const std::filesystem::path& p) const {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  const auto b = bytes();
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("craft: cannot write " + p.string());
}

void Bundle::resign(const std::vector<const Key*>& signers) {
  std::vector<const Key*> sorted = signers;
  std::sort(sorted.begin(), sorted.end(), [](const Key* a, const Key* b) { return a->id() < b->id(); });
  head.resize(std::min<std::size_t>(head.size(), 1));
  for (const Key* k : sorted) head.push_back(signature_entry(*k, manifest));
}

Bundle good_bundle(const BundleSpec& s, const std::vector<const Key*>& signers) {
  Bundle b;
  b.manifest = manifest_text(s);
  b.head.push_back(file_entry("manifest.toml", b.manifest));
  b.resign(signers);
  for (const auto& f : s.files) {
    b.payload.push_back(file_entry(f.path, f.content, f.executable ? 0755 : 0644));
  }
  return b;
}

}  // namespace airlock::test::craft
