#include "core/text.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace airlock {
namespace {

// Every output of printable() must be valid UTF-8 without control characters.
bool clean(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F || (c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0)) return false;
    i += n;
  }
  return true;
}

TEST(Printable, PassesValidPrintableTextUnchanged) {
  for (const char* s : {"", "plain ascii 1.2.3", "notas de versão: correção", "版本说明", "emoji \xF0\x9F\x98\x80",
                        "U+00A0 \xC2\xA0 and U+FFFD \xEF\xBF\xBD", "U+10FFFF \xF4\x8F\xBF\xBF"})
    EXPECT_EQ(printable(s), s) << s;
}

TEST(Printable, DoublesBackslashes) {
  EXPECT_EQ(printable("a\\b"), "a\\\\b");
  // A literal "\xFF" in the text stays apart from a 0xFF byte.
  EXPECT_EQ(printable("\\xFF"), "\\\\xFF");
  EXPECT_EQ(printable("\xFF"), "\\xFF");
}

TEST(Printable, EscapesInvalidBytesOneByOne) {
  EXPECT_EQ(printable("a\xFF"
                      "b"),
            "a\\xFFb");
  EXPECT_EQ(printable("\x80"), "\\x80");                                      // stray continuation byte
  EXPECT_EQ(printable("\xC3"), "\\xC3");                                      // cut short at the end
  EXPECT_EQ(printable("\xC3(x"), "\\xC3(x");                                  // cut short by an ASCII byte
  EXPECT_EQ(printable("\xE2\x82"), "\\xE2\\x82");                             // three-byte form cut short
  EXPECT_EQ(printable("\xF8\x88\x80\x80\x80"), "\\xF8\\x88\\x80\\x80\\x80");  // five-byte form
}

TEST(Printable, EscapesOverlongForms) {
  EXPECT_EQ(printable("\xC0\xAF"), "\\xC0\\xAF");           // '/' in two bytes
  EXPECT_EQ(printable("\xC1\x9B"), "\\xC1\\x9B");           // ESC in two bytes
  EXPECT_EQ(printable("\xE0\x80\xAF"), "\\xE0\\x80\\xAF");  // '/' in three bytes
  EXPECT_EQ(printable("\xF0\x80\x80\xAF"), "\\xF0\\x80\\x80\\xAF");
}

TEST(Printable, EscapesSurrogatesAndCodePointsPastTheEnd) {
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xED\\xA0\\x80");           // U+D800
  EXPECT_EQ(printable("\xED\xBF\xBF"), "\\xED\\xBF\\xBF");           // U+DFFF
  EXPECT_EQ(printable("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // U+110000
}

TEST(Printable, EscapesC0ControlsAndDel) {
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\u0000b");
  EXPECT_EQ(printable("\x1B[2J\x1B[1;32mVERIFIED"), "\\u001B[2J\\u001B[1;32mVERIFIED");
  EXPECT_EQ(printable("line\nnext\ttab\rcr"), "line\\u000Anext\\u0009tab\\u000Dcr");
  EXPECT_EQ(printable("\x7F"), "\\u007F");
}

TEST(Printable, EscapesC1Controls) {
  EXPECT_EQ(printable("\xC2\x80"), "\\u0080");
  EXPECT_EQ(printable("\xC2\x9B"
                      "31m"),
            "\\u009B31m");  // CSI, the one-byte ESC [
  EXPECT_EQ(printable("\xC2\x9F"), "\\u009F");
  EXPECT_EQ(printable("\xC2\xA0"), "\xC2\xA0");  // the first printable code point after C1
}

TEST(Printable, KeepsNewlinesAndTabsOnlyWhenAsked) {
  EXPECT_EQ(printable("one\n\ttwo\n", Newlines::keep), "one\n\ttwo\n");
  EXPECT_EQ(printable("one\r\n\x1B]0;title\x07", Newlines::keep), "one\\u000D\n\\u001B]0;title\\u0007");
}

TEST(Printable, OutputIsAlwaysCleanUtf8) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (int i = 0; i < 256; ++i) all += std::string("\xC2") + static_cast<char>(i);
  for (int i = 0; i < 256; ++i) all += std::string("\xED") + static_cast<char>(i) + "\x80";
  EXPECT_TRUE(clean(printable(all)));
  EXPECT_TRUE(clean(printable(all, Newlines::escape)));
}

TEST(Printable, ErrorTextsArePrintableWhenBuilt) {
  Error e = Error(ErrorClass::malformed, "entry '\xFF\x1B[32m'").with_context("bundle '\x9B'");
  EXPECT_EQ(e.message(), "entry '\\xFF\\u001B[32m'");
  EXPECT_EQ(e.what(), "bundle '\\x9B': entry '\\xFF\\u001B[32m'");
}

// An error built on another error's text (a refusal naming its cause, a note after a message)
// shows each escape once: the cause's text is printable already and is not escaped again.
TEST(Printable, AnErrorBuiltOnAnotherKeepsItsEscapesSingle) {
  const Error cause = Error(ErrorClass::io, "open 'a\\b\x1B': gone").with_context("layout");
  Error refused = Error(ErrorClass::policy, "not recorded").with_context("recipe 'r\x1B': ", cause);
  EXPECT_EQ(refused.what(), "recipe 'r\\u001B': layout: open 'a\\\\b\\u001B': gone: not recorded");
  Error noted = cause.reclassed(ErrorClass::build_refused).with_note("; see 'x\\y'");
  EXPECT_EQ(noted.cls(), ErrorClass::build_refused);
  EXPECT_EQ(noted.what(), "layout: open 'a\\\\b\\u001B': gone; see 'x\\\\y'");
}

}  // namespace
}  // namespace airlock
