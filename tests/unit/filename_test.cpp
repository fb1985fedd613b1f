#include "domain/filename.hpp"

#include <gtest/gtest.h>
#include <iconv.h>

#include <random>
#include <string>

namespace imgup {
namespace {

using namespace std::string_literals;

// glibc's iconv as an independent UTF-8 validator: it refuses ill-formed sequences, overlongs
// and surrogates.
bool IsValidUtf8(const std::string& s) {
  iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  std::string in = s;
  std::string out(4 * s.size() + 4, '\0');
  char* inp = in.data();
  char* outp = out.data();
  std::size_t in_left = in.size();
  std::size_t out_left = out.size();
  const std::size_t r = iconv(cd, &inp, &in_left, &outp, &out_left);
  iconv_close(cd);
  return r != static_cast<std::size_t>(-1) && in_left == 0;
}

// The code points of valid UTF-8, decoded with iconv.
std::u32string CodePoints(const std::string& s) {
  iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  std::string in = s;
  std::u32string out(s.size() + 1, U'\0');
  char* inp = in.data();
  char* outp = reinterpret_cast<char*>(out.data());
  std::size_t in_left = in.size();
  std::size_t out_left = out.size() * sizeof(char32_t);
  iconv(cd, &inp, &in_left, &outp, &out_left);
  iconv_close(cd);
  out.resize(out.size() - out_left / sizeof(char32_t));
  return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(SanitizeFilenameTest, KeepsOrdinaryNames) {
  EXPECT_EQ(SanitizeFilename("photo.jpg"), "photo.jpg");
  EXPECT_EQ(SanitizeFilename("My Holiday (2).JPEG"), "My Holiday (2).JPEG");
  EXPECT_EQ(SanitizeFilename("фото 📷 写真.png"), "фото 📷 写真.png");
  EXPECT_EQ(SanitizeFilename(".hidden.png"), "hidden.png");
}

TEST(SanitizeFilenameTest, KeepsOnlyTheLastPathComponent) {
  EXPECT_EQ(SanitizeFilename("../../etc/passwd"), "passwd");
  EXPECT_EQ(SanitizeFilename("/var/www/shell.php.jpg"), "shell.php.jpg");
  EXPECT_EQ(SanitizeFilename("..\\..\\windows\\system32\\cmd.exe"), "cmd.exe");
  EXPECT_EQ(SanitizeFilename("C:\\Users\\me\\Pictures\\cat.gif"), "cat.gif");
  EXPECT_EQ(SanitizeFilename("a/b\\c/d.webp"), "d.webp");
  EXPECT_EQ(SanitizeFilename("photos/"), "upload");
  EXPECT_EQ(SanitizeFilename("photos/.."), "upload");
}

TEST(SanitizeFilenameTest, DropsNulAndControlCharacters) {
  EXPECT_EQ(SanitizeFilename("pho\0to.jpg"s), "photo.jpg");
  EXPECT_EQ(SanitizeFilename("evil.php\0.jpg"s), "evil.php.jpg");
  EXPECT_EQ(SanitizeFilename("a\tb\r\nc\x1B[31m.png"), "abc[31m.png");
  EXPECT_EQ(SanitizeFilename("del\x7F.png"), "del.png");
  // C1 controls are code points U+0080..U+009F, two bytes in UTF-8.
  EXPECT_EQ(SanitizeFilename("next\xC2\x85line\xC2\x9B.png"), "nextline.png");
  // U+00A0 (just past C1) is not a control character.
  EXPECT_EQ(SanitizeFilename("nb\xC2\xA0sp.png"), "nb\xC2\xA0sp.png");
}

TEST(SanitizeFilenameTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(SanitizeFilename("\xFF.jpg"), kFffd + ".jpg");
  EXPECT_EQ(SanitizeFilename("caf\xE9.jpg"), "caf" + kFffd + ".jpg");   // Latin-1
  EXPECT_EQ(SanitizeFilename("abc\xE2\x82"), "abc" + kFffd);            // truncated sequence
  EXPECT_EQ(SanitizeFilename("\xC0\xAF.png"), kFffd + kFffd + ".png");  // overlong '/'
  EXPECT_EQ(SanitizeFilename("\xED\xA0\x80.png"), kFffd + kFffd + kFffd + ".png");  // surrogate
  EXPECT_EQ(SanitizeFilename("\xF4\x90\x80\x80.png"), kFffd + kFffd + kFffd + kFffd + ".png");
  EXPECT_EQ(SanitizeFilename("\xE2\x82\xAC.png"), "\xE2\x82\xAC.png");  // valid euro sign
}

TEST(SanitizeFilenameTest, TrimsSpacesAndDots) {
  EXPECT_EQ(SanitizeFilename("  photo.jpg  "), "photo.jpg");
  EXPECT_EQ(SanitizeFilename("photo.jpg..."), "photo.jpg");
  EXPECT_EQ(SanitizeFilename(" . .photo.jpg. . "), "photo.jpg");
}

TEST(SanitizeFilenameTest, FallsBackWhenNothingIsLeft) {
  EXPECT_EQ(SanitizeFilename(""), "upload");
  EXPECT_EQ(SanitizeFilename("."), "upload");
  EXPECT_EQ(SanitizeFilename(".."), "upload");
  EXPECT_EQ(SanitizeFilename("..."), "upload");
  EXPECT_EQ(SanitizeFilename("   "), "upload");
  EXPECT_EQ(SanitizeFilename("/"), "upload");
  EXPECT_EQ(SanitizeFilename("\0\0\x01"s), "upload");
}

TEST(SanitizeFilenameTest, CutsLongNamesOnACharacterBoundary) {
  // The extension survives the cut: it tells people and programs what the file is.
  const std::string ascii = SanitizeFilename(std::string(10000, 'a') + ".jpg");
  EXPECT_EQ(ascii, std::string(kMaxSanitisedFilenameBytes - 4, 'a') + ".jpg");
  // An over-long "extension" is just part of the name.
  EXPECT_EQ(SanitizeFilename("x." + std::string(1000, 'e')).size(), kMaxSanitisedFilenameBytes);

  // Two-, three- and four-byte characters: 255 is not a multiple of 2 or 4, so a naive cut
  // would split a character.
  for (const std::string& ch : {"\xC3\xA9"s, "\xE5\x86\x99"s, "\xF0\x9F\x93\xB7"s}) {
    std::string name;
    for (int i = 0; i < 10000; ++i) name += ch;
    const std::string out = SanitizeFilename(name);
    EXPECT_LE(out.size(), kMaxSanitisedFilenameBytes);
    EXPECT_GT(out.size(), kMaxSanitisedFilenameBytes - ch.size());
    EXPECT_TRUE(IsValidUtf8(out)) << ch.size();
    EXPECT_EQ(out.size() % ch.size(), 0u);
  }

  // Leading junk that is trimmed does not count against the limit.
  EXPECT_EQ(SanitizeFilename(std::string(5000, '.') + std::string(300, 'b')),
            std::string(kMaxSanitisedFilenameBytes, 'b'));
  // What the cut exposes at the end of the stem is trimmed too.
  EXPECT_EQ(SanitizeFilename(std::string(249, 'c') + "  " + std::string(20, 'c') + ".jpg"),
            std::string(249, 'c') + ".jpg");
}

TEST(SanitizeFilenameTest, DropsInvisibleCharactersThatDisguiseNames) {
  // U+202E RIGHT-TO-LEFT OVERRIDE would show "photo\u202Egpj.exe" as "photoexe.jpg".
  EXPECT_EQ(SanitizeFilename("photo\xE2\x80\xAEgpj.exe"), "photogpj.exe");
  EXPECT_EQ(SanitizeFilename("a\xE2\x80\x8B"
                             "b\xEF\xBB\xBF.png"),
            "ab.png");
}

TEST(SanitizeFilenameTest, RandomBytesAlwaysGiveASafeName) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::string name(rng() % 600, '\0');
    for (auto& c : name) {
      // Mostly printable ASCII with separators, dots and spaces, plus arbitrary bytes.
      const auto r = rng() % 10;
      c = r < 6   ? static_cast<char>(0x20 + rng() % 0x5F)
          : r < 8 ? "/\\. "[rng() % 4]
                  : static_cast<char>(rng() & 0xFF);
    }
    const std::string out = SanitizeFilename(name);
    ASSERT_FALSE(out.empty());
    ASSERT_LE(out.size(), kMaxSanitisedFilenameBytes);
    ASSERT_TRUE(IsValidUtf8(out)) << name;
    ASSERT_EQ(out.find_first_of("/\\"), std::string::npos);
    ASSERT_NE(out.front(), ' ');
    ASSERT_NE(out.front(), '.');
    ASSERT_NE(out.back(), ' ');
    ASSERT_NE(out.back(), '.');
    for (const char32_t cp : CodePoints(out)) {
      ASSERT_FALSE(cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
          << "control U+" << std::hex << static_cast<unsigned>(cp);
    }
    ASSERT_EQ(SanitizeFilename(out), out);  // idempotent
  }
}

TEST(ContentDispositionFilenameTest, EncodesPerRfc8187) {
  EXPECT_EQ(ContentDispositionFilename("photo.jpg"), "UTF-8''photo.jpg");
  // RFC 8187 section 3.2.3's examples.
  EXPECT_EQ(ContentDispositionFilename("\xC2\xA3 rates"), "UTF-8''%C2%A3%20rates");
  EXPECT_EQ(ContentDispositionFilename("\xE2\x82\xAC rates"), "UTF-8''%E2%82%AC%20rates");
  // Quotes, separators and '%' itself can never break out of the header value.
  EXPECT_EQ(ContentDispositionFilename("a\"b;c,d%e'f"), "UTF-8''a%22b%3Bc%2Cd%25e%27f");
  EXPECT_EQ(ContentDispositionFilename("!#$&+-.^_`|~"), "UTF-8''!#$&+-.^_`|~");
}

}  // namespace
}  // namespace imgup

namespace imgup {
namespace {

TEST(CheckAnnotationText, AcceptsOrdinaryTextAndJoinedEmoji) {
  EXPECT_EQ(CheckAnnotationText("", false), TextProblem::kNone);
  EXPECT_EQ(CheckAnnotationText("café", false), TextProblem::kNone);
  // U+200D joins 👩 and 💻 into one emoji; U+200F is a mark inside right-to-left text.
  EXPECT_EQ(CheckAnnotationText("\U0001F469\u200D\U0001F4BB", false), TextProblem::kNone);
  EXPECT_EQ(CheckAnnotationText("\u05E9\u05DC\u05D5\u05DD\u200F abc", true), TextProblem::kNone);
  EXPECT_EQ(CheckAnnotationText("line one\r\nline two\tend", true), TextProblem::kNone);
  EXPECT_EQ(CheckAnnotationText("\xEF\xBF\xBD", false), TextProblem::kNone);  // a sent U+FFFD
}

TEST(CheckAnnotationText, RefusesWhatFileNamesAreCleanedOf) {
  using namespace std::string_literals;
  EXPECT_EQ(CheckAnnotationText("a\0b"s, true), TextProblem::kControl);
  EXPECT_EQ(CheckAnnotationText("a\x7f", true), TextProblem::kControl);
  EXPECT_EQ(CheckAnnotationText("a\u0085b", true), TextProblem::kControl);  // C1
  EXPECT_EQ(CheckAnnotationText("line\nbreak", false), TextProblem::kControl);
  EXPECT_EQ(CheckAnnotationText("cat\u202Egpj.exe", true), TextProblem::kBidiControl);
  EXPECT_EQ(CheckAnnotationText("\u2066x\u2069", false), TextProblem::kBidiControl);
  EXPECT_EQ(CheckAnnotationText("\u200B", false), TextProblem::kInvisibleOnly);
  EXPECT_EQ(CheckAnnotationText("\u200B\u200D\uFEFF\u2060", true), TextProblem::kInvisibleOnly);
  EXPECT_EQ(CheckAnnotationText("\xC3", false), TextProblem::kInvalidUtf8);
  EXPECT_EQ(CheckAnnotationText("a\xED\xA0\x80", false), TextProblem::kInvalidUtf8);  // surrogate
}

}  // namespace
}  // namespace imgup
